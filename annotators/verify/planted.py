"""Known errors planted into correct captions, to measure what a verifier catches.

Each function takes a correct SegCap sample (a dict as stored) and its image evidence, and
returns the corrupted copy plus the indices of the phrases that are now wrong, or None when the
sample offers no place for that error. Planted errors are true errors by construction: a planted
colour covers under 1% of the region, a planted category is unrelated to the mask's segment, a
hallucinated phrase names a category the image does not have.
"""

from __future__ import annotations

import copy

import numpy as np

from annotators.verify import words
from annotators.verify.captions import grounded_phrases
from annotators.verify.evidence import ImageEvidence, colour_shares
from schemas.grounding import parse_grounded
from schemas.masks import decode, encode_array
from schemas.rows import answer_text

ERROR_KINDS = ("swap", "colour", "category", "hallucination")


def _replace_phrases(sample: dict, new_texts: dict[int, str]) -> dict:
    answer = answer_text(sample["conversations"])
    spans = parse_grounded(answer).spans
    for index in sorted(new_texts, reverse=True):
        start, end = spans[index]
        answer = answer[:start] + f" {new_texts[index]} " + answer[end:]
    return _with_answer(sample, answer)


def _with_answer(sample: dict, answer: str) -> dict:
    out = copy.deepcopy(sample)
    for turn in out["conversations"]:
        if turn["from"] == "gpt":
            turn["value"] = answer
            break
    return out


def swap(sample: dict, image: ImageEvidence, rng: np.random.Generator):
    phrases = grounded_phrases(sample)
    pairs = [(a.index, b.index) for a in phrases for b in phrases
             if a.index < b.index and _category(a.segment_id, image) != _category(b.segment_id, image)
             and _category(a.segment_id, image) and _category(b.segment_id, image)]
    if not pairs:
        return None
    i, j = pairs[rng.integers(len(pairs))]
    return _replace_phrases(sample, {i: phrases[j].text, j: phrases[i].text}), [i, j]


def colour(sample: dict, image: ImageEvidence, rng: np.random.Generator):
    phrases = [p for p in grounded_phrases(sample) if words.colour_words(p.text)]
    if not phrases:
        return None
    phrase = phrases[rng.integers(len(phrases))]
    mask = decode(sample["masks"][phrase.index]).astype(bool)
    shares = colour_shares(image.colours, mask)
    absent = sorted(c for c, s in shares.items() if s < 0.01)
    if not absent:
        return None
    claimed = words.colour_words(phrase.text)[0]
    new = " ".join(absent[rng.integers(len(absent))] if words.COLOUR_WORDS.get(t) == claimed else t
                   for t in phrase.text.split())
    return _replace_phrases(sample, {phrase.index: new}), [phrase.index]


def category(sample: dict, image: ImageEvidence, rng: np.random.Generator,
             vocabulary: list[str]):
    candidates = []
    for phrase in grounded_phrases(sample):
        own = _category(phrase.segment_id, image)
        if own and words.mentions(phrase.text, own):
            related = image.related_categories(phrase.segment_id)
            others = [c for c in vocabulary if c not in related and " " not in c]
            if others:
                candidates.append((phrase, own, others))
    if not candidates:
        return None
    phrase, own, others = candidates[rng.integers(len(candidates))]
    new = phrase.text.replace(own, others[rng.integers(len(others))])
    return _replace_phrases(sample, {phrase.index: new}), [phrase.index]


def hallucination(sample: dict, image: ImageEvidence, rng: np.random.Generator,
                  vocabulary: list[str]):
    present = {s["category"] for s in image.labelled()}
    absent = [c for c in vocabulary if c not in present and " " not in c]
    background = _background_box(image)
    if not absent or background is None:
        return None
    name = absent[rng.integers(len(absent))]
    answer = answer_text(sample["conversations"]).rstrip(". ")
    index = len(grounded_phrases(sample))
    corrupted = _with_answer(sample, f"{answer} and <p> a {name} </p> [SEG].")
    corrupted["masks"] = list(corrupted["masks"]) + [encode_array(background)]
    corrupted["mask_labels"] = list(corrupted["mask_labels"]) + [name]
    corrupted["segment_ids"] = list(corrupted["segment_ids"]) + [f"planted-{index}"]
    return corrupted, [index]


def _category(segment_id: str | None, image: ImageEvidence) -> str | None:
    return image.by_id.get(segment_id, {}).get("category")


def _background_box(image: ImageEvidence) -> np.ndarray | None:
    """A box of the image that no annotated segment touches, at least 4% of the image."""
    height, width = image.shape
    covered = np.zeros((height, width), dtype=bool)
    for segment in image.segments:
        covered |= image.mask(segment["segment_id"])
    side_y, side_x = max(4, height // 5), max(4, width // 5)
    for y in range(0, height - side_y + 1, max(1, side_y // 2)):
        for x in range(0, width - side_x + 1, max(1, side_x // 2)):
            if not covered[y:y + side_y, x:x + side_x].any():
                box = np.zeros((height, width), dtype=bool)
                box[y:y + side_y, x:x + side_x] = True
                return box
    return None


def plant(kind: str, sample: dict, image: ImageEvidence, rng: np.random.Generator,
          vocabulary: list[str]):
    if kind == "swap":
        return swap(sample, image, rng)
    if kind == "colour":
        return colour(sample, image, rng)
    if kind == "category":
        return category(sample, image, rng, vocabulary)
    if kind == "hallucination":
        return hallucination(sample, image, rng, vocabulary)
    raise ValueError(f"unknown error kind {kind!r}; known: {', '.join(ERROR_KINDS)}")
