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
