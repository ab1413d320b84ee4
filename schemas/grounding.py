"""The grounded-text convention: `<p> phrase </p> [SEG]`, the k-th [SEG] <-> the k-th mask.

Writers build answers with `GroundedText`; readers and `validate` parse them with
`parse_grounded`. Phrase spans are character spans of the phrase text inside the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SEG = "[SEG]"
OPEN = "<p>"
CLOSE = "</p>"
_GROUNDED = re.compile(r"<p>\s?(.*?)\s?</p>\s*\[SEG\]", re.DOTALL)


def ground(phrase: str) -> str:
    return f"{OPEN} {phrase} {CLOSE} {SEG}"


@dataclass
class GroundedText:
    """Builds an answer piece by piece and records each phrase's span."""

    text: str = ""
    phrases: list[str] = field(default_factory=list)
    spans: list[list[int]] = field(default_factory=list)

    def add(self, plain: str) -> GroundedText:
        self.text += plain
        return self

    def add_phrase(self, phrase: str) -> GroundedText:
        start = len(self.text) + len(OPEN) + 1
        self.text += ground(phrase)
        self.phrases.append(phrase)
        self.spans.append([start, start + len(phrase)])
        return self


@dataclass
class ParsedGrounding:
    phrases: list[str]
    spans: list[list[int]]
    seg_count: int


def parse_grounded(answer: str) -> ParsedGrounding:
    phrases, spans = [], []
    for match in _GROUNDED.finditer(answer):
        phrases.append(match.group(1))
        spans.append([match.start(1), match.end(1)])
    return ParsedGrounding(phrases, spans, answer.count(SEG))


def alignment_problems(answer: str, n_masks: int, n_labels: int | None = None,
                       spans: list[list[int]] | None = None) -> list[str]:
    """Why an answer's markers do not line up with its masks (empty list: aligned)."""
    parsed = parse_grounded(answer)
    problems = []
    if parsed.seg_count != n_masks:
        problems.append(f"{parsed.seg_count} [SEG] markers but {n_masks} masks")
    if len(parsed.phrases) != parsed.seg_count and parsed.phrases:
        problems.append(f"{len(parsed.phrases)} <p> phrases but {parsed.seg_count} [SEG] markers")
    empty = sum(1 for phrase in parsed.phrases if not phrase.strip())
    if empty:  # a [SEG] with no words: nothing says what the mask is
        problems.append(f"{empty} empty <p> </p> phrase{'s' if empty > 1 else ''}")
    if n_labels is not None and n_labels != n_masks:
        problems.append(f"{n_labels} mask labels but {n_masks} masks")
    if spans is not None:
        if len(spans) != len(parsed.phrases):
            problems.append(f"{len(spans)} phrase spans but {len(parsed.phrases)} phrases")
        for (start, end), phrase in zip(spans, parsed.phrases, strict=False):
            if answer[start:end] != phrase:
                problems.append(f"span [{start}, {end}] reads {answer[start:end]!r}, not {phrase!r}")
    return problems


def key_tags_to_grounded(caption: str, keys: list[str]) -> tuple[str, list[str], list[list[int]]]:
    """MGLMM MGSC: `<KEY>phrase</KEY>` -> `<p> phrase </p> [SEG]`; returns text, keys in order, spans.

    Tags are matched per key in the order they appear in the caption.
    """
    pattern = re.compile(r"<(" + "|".join(re.escape(k) for k in keys) + r")>(.*?)</\1>", re.DOTALL)
    built = GroundedText()
    order: list[str] = []
    last = 0
    for match in pattern.finditer(caption):
        built.add(caption[last:match.start()])
        built.add_phrase(match.group(2).strip())
        order.append(match.group(1))
        last = match.end()
    built.add(caption[last:])
    return built.text, order, built.spans


# ---- class names in answers ---------------------------------------------------------------
# MGLMM's panoptic loader (dataset/segm_datasets/Panoptic_Segm_ds.py, CATEGORY_REMAP and
# get_renamed_labels): a few COCO-stuff names are rewritten, then everything after the first "-"
# is dropped ("sky-other-merged" -> "sky"), then consecutive repeats are numbered -1, -2, ...
MGLMM_CATEGORY_REMAP = {
    "window-blind": "blind window", "wall-wood": "wooden wall", "wall-tile": "tiled wall",
    "wall-stone": "stone wall", "wall-brick": "brick wall", "mirror-stuff": "mirror stuff",
    "floor-wood": "wooden floor", "door-stuff": "door stuff",
}
_STUFF_SUFFIXES = ("-merged", "-other", "-stuff")


def mglmm_label(name: str) -> str:
    return MGLMM_CATEGORY_REMAP.get(name, name).split("-")[0]


def mglmm_numbered(labels: list[str]) -> list[str]:
    """MGLMM's numbering of labels already sorted by category id: a run of equal labels becomes
    label-1, label-2, ...; a label used once stays as it is (a port of get_renamed_labels)."""
    renamed: list[str] = []
    count = 0
    for i, label in enumerate(labels):
        if count > 0 and label == renamed[-1].split("-")[0]:
            count += 1
            renamed.append(f"{label}-{count}")
        elif i < len(labels) - 1 and label == labels[i + 1]:
            count = 1
            renamed.append(f"{label}-1")
        else:
            count = 0
            renamed.append(label)
    return renamed


def panoptic_sentence(names: list[str]) -> GroundedText:
    """MGLMM's panoptic answer over names already ordered and numbered:
    "Sure, the image contains <p> a </p> [SEG], <p> b </p> [SEG] and <p> c </p> [SEG]."."""
    text = GroundedText().add("Sure, the image contains ")
    for index, name in enumerate(names):
        if index:
            text.add(" and " if index == len(names) - 1 else ", ")
        text.add_phrase(name)
    return text.add(".")


def text_label(name: str | None) -> str | None:
    """A dataset class name as words for captions: COCO-stuff suffixes and the MGLMM rewrites
    applied ("sky-other-merged" -> "sky", "wall-brick" -> "brick wall"), "_"/":" as spaces."""
    if name is None:
        return None
    text = MGLMM_CATEGORY_REMAP.get(name, name)
    changed = True
    while changed:
        changed = False
        for suffix in _STUFF_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, changed = text[: -len(suffix)], True
    return " ".join(text.replace("_", " ").replace(":", " ").split()) or name
