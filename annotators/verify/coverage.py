"""Exhaustivity: how much of what is there a grounded caption covers.

For a caption meant to describe everything (root, panoptic, gcg), the reference set is the
image's instances; for a subtree caption, the parts of its object. An instance counts as covered
when at least half of it lies inside the union of the caption's masks.
"""

from __future__ import annotations

import numpy as np

from annotators.verify.evidence import ImageEvidence
from schemas.masks import decode

COVERED_SHARE = 0.5
EXHAUSTIVE_TASKS = frozenset({"mgsc", "gcg", "panoptic"})
MAX_UNCOVERED = 3


def caption_coverage(sample: dict, image: ImageEvidence) -> dict | None:
    """{image_share, instance_share, uncovered} for an exhaustive caption, else None."""
    if sample.get("task") not in EXHAUSTIVE_TASKS:
        return None
    height, width = image.shape
    grounded = np.zeros((height, width), dtype=bool)
    for rle in sample.get("masks") or []:
        mask = decode(rle).astype(bool)
        if mask.shape == grounded.shape:
            grounded |= mask
    reference = _reference_segments(sample, image)
    uncovered = []
    for segment in reference:
        mask = image.mask(segment["segment_id"])
        inside = float(np.logical_and(mask, grounded).sum()) / max(1, int(mask.sum()))
        if inside < COVERED_SHARE:
            uncovered.append(segment)
    uncovered.sort(key=lambda s: (-int(s["area"]), s["segment_id"]))
    return {
        "image_share": float(grounded.mean()),
        "instance_share": (1 - len(uncovered) / len(reference)) if reference else None,
        "uncovered": [s["segment_id"] for s in uncovered[:MAX_UNCOVERED]],
    }


def _reference_segments(sample: dict, image: ImageEvidence) -> list[dict]:
    if sample.get("granularity") == "subtree":
        known = [sid for sid in sample.get("segment_ids") or [] if sid in image.by_id]
        parent = image.by_id[known[0]].get("parent_id") if known else None
        return [image.by_id[c] for c in image.children.get(parent, [])
                if not image.by_id[c].get("is_crowd")]
    return image.instances()
