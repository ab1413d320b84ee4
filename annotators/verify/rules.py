"""The weight-free verifier: each checkable word of a phrase against measured evidence.

Colour words against the region's colour shares, size words against its area, position words
against its centre, category words against the annotated segments, counts in scene sentences
against instances. A check that has no evidence says nothing; a phrase with no checkable word is
`unsure`. Thresholds leave a band between pass and fail, so borderline evidence is `unsure`
rather than a guess.
"""

from __future__ import annotations

import numpy as np

from annotators.describe.evidence import size_word
from annotators.verify import words
from annotators.verify.evidence import ImageEvidence, Verdict, colour_shares

COLOUR_PASS, COLOUR_FAIL = 0.10, 0.03  # share of the region's pixels
COVER_PASS = 0.5  # share of the phrase's mask inside segments of the named category
SIDE_PASS, SIDE_FAIL = 0.45, 2 / 3  # centre coordinate (0..1) for left/top; mirrored for right/bottom


def combine(checks: list[tuple[str, bool | None, str]]) -> Verdict:
    """Checks are (name, passed or None for unsure, detail); any fail fails the phrase."""
    failed = [(n, d) for n, ok, d in checks if ok is False]
    passed = [(n, d) for n, ok, d in checks if ok is True]
    decided = len(failed) + len(passed)
    score = len(passed) / decided if decided else None
    if failed:
        return Verdict("fail", score, "; ".join(f"{n}: {d}" for n, d in failed),
                       tuple(n for n, _ in failed))
    if passed:
        return Verdict("pass", score, "; ".join(f"{n}: {d}" for n, d in passed))
    return Verdict("unsure", None, "nothing in the text could be checked against the evidence")


def check_colours(text: str, image: ImageEvidence, mask: np.ndarray) -> list:
    claimed = words.colour_words(text)
    if not claimed:
        return []
    shares = colour_shares(image.colours, mask)
    out = []
    for colour in claimed:
        share = shares.get(colour, 0.0)
        ok = True if share >= COLOUR_PASS else False if share < COLOUR_FAIL else None
        top = ", ".join(f"{n} {s:.2f}" for n, s in sorted(shares.items(), key=lambda x: -x[1])[:2])
        out.append(("colour", ok, f"says {colour} ({share:.2f} of the region); region is {top}"))
    return out


def check_size(text: str, area: int, image_area: int) -> list:
    measured = words.SIZE_STEPS[size_word(area, image_area)]
    return [("size", abs(step - measured) <= 1,
             f"says step {step} of 0-4, measured {size_word(area, image_area)}")
            for step in words.size_steps(text)]


def check_position(text: str, mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    cx, cy = xs.mean() / max(1, width - 1), ys.mean() / max(1, height - 1)
    out = []
    for side in words.side_words(text):
        if side == "centre":
            off = max(abs(cx - 0.5), abs(cy - 0.5))
            ok = True if off < 0.2 else False if off > 0.35 else None
        else:
            value = {"left": cx, "right": 1 - cx, "top": cy, "bottom": 1 - cy}[side]
            ok = True if value < SIDE_PASS else False if value > SIDE_FAIL else None
        out.append(("position", ok, f"says {side}, centre at ({cx:.2f}, {cy:.2f})"))
    return out


def check_category(text: str, mask: np.ndarray, segment_id: str | None,
                   image: ImageEvidence, vocabulary: list[str]) -> list:
    named = words.mentioned(text, vocabulary)
    if not named:
        return []
    related = image.related_categories(segment_id)
    own = image.by_id.get(segment_id, {}).get("category")
    present = {s["category"] for s in image.labelled()}
    out = []
    for category in named:
        if category in related:
            out.append(("category", True, f"names {category}, the mask's segment is {own or category}"))
            continue
        if own:
            out.append(("category", False, f"names {category}, the mask's segment is {own}"))
            continue
        if present and category not in present:
            out.append(("category", False, f"names {category}; the image has no annotated {category}"))
            continue
        out.append(("category", *_by_overlap(category, mask, image)))
    return out


def _by_overlap(category: str, mask: np.ndarray, image: ImageEvidence) -> tuple[bool | None, str]:
    """For a mask with no category of its own (mined): what annotated segments it lies in."""
    area = max(1, int(mask.sum()))
    best, best_share = None, 0.0
    for segment in image.labelled():
        share = float(np.logical_and(mask, image.mask(segment["segment_id"])).sum()) / area
        if segment["category"] == category and share >= COVER_PASS:
            return True, f"names {category}; {share:.2f} of the mask lies in one"
        if share > best_share:
            best, best_share = segment, share
    if best is not None and best_share >= COVER_PASS:
        return False, f"names {category}; {best_share:.2f} of the mask lies in a {best['category']}"
    return None, f"names {category}; the mask lies in no annotated segment"


def verify_region(text: str, context: str, mask: np.ndarray, segment_id: str | None,
                  image: ImageEvidence, vocabulary: list[str]) -> Verdict:
    """One phrase (`text`) with its location clause (`context`) against its mask."""
    if mask.shape != image.shape:
        return Verdict("fail", 0.0, f"mask {mask.shape} does not match the image {image.shape}",
                       ("mask",))
    if not mask.any():
        return Verdict("fail", 0.0, "the mask is empty: the phrase grounds nothing", ("mask",))
    height, width = image.shape
    checks = (check_colours(text, image, mask)
              + check_size(text, int(mask.sum()), height * width)
              + check_position(context, mask)
              + check_category(text, mask, segment_id, image, vocabulary))
    return combine(checks)


def verify_counts(texts: list[str], image: ImageEvidence, vocabulary: list[str]) -> Verdict:
    """Counts in each scene text against the image's instances of each category."""
    actual: dict[str, int] = {}
    for segment in image.instances():
        if segment.get("category"):
            actual[segment["category"]] = actual.get(segment["category"], 0) + 1
    checks = [("count", actual.get(c, 0) == n, f"says {n} {c}, the image has {actual.get(c, 0)}")
              for text in dict.fromkeys(t for t in texts if t)
              for c, n in words.counted_categories(text, vocabulary).items()]
    return combine(checks)
