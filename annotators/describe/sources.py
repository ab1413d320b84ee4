"""Which masks of an image a description speaks about: one mask source per image, never a mix.

An image can carry ground-truth segments and, after `mine`, one or more mined hierarchies over
the same pixels. Describing them together writes captions that are wrong about the image: the
same house twice (once annotated, once as superpixels), instance counts taken from every mask,
"six unlabelled regions" next to the annotated objects. So each image is described from one
source: its annotations ("gt", and "box" masks from the same annotation file) where it has them,
else one mined hierarchy (the most capable present: sam2, sam, unsamv2, superpixel).
`mask_source` = "gt" or "mined" forces one side (images without it get a scene sentence only).
"""

from __future__ import annotations

ANNOTATED = ("gt", "box")
MINED_PREFERENCE = ("sam2", "sam", "unsamv2", "superpixel")


def source_of(segment: dict) -> str:
    return segment.get("mask_source") or "gt"


def pick_mask_source(segments: list[dict], policy: str = "auto") -> tuple[str | None, list[dict]]:
    """(the source described, that source's segments); (None, []) when none fits the policy."""
    present = {source_of(s) for s in segments if s["level"] == 0}
    annotated = [s for s in ANNOTATED if s in present]
    mined = [s for s in MINED_PREFERENCE if s in present] + sorted(
        present - set(ANNOTATED) - set(MINED_PREFERENCE))
    if annotated and policy in ("auto", "gt"):
        chosen, name = set(annotated), "gt"
    elif mined and policy in ("auto", "mined"):
        chosen, name = {mined[0]}, mined[0]
    else:
        return None, []
    return name, [s for s in segments if source_of(s) in chosen]
