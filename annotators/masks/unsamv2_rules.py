"""UnSAMv2's divide rules and windowed NMS (REFERENCE.md section 5), on COCO RLEs.

- Divide: a detection is an instance when it covers > 5% of the image and is not > 80% inside any
  other detection; a detection (other than the instance) > 80% inside an instance is its part.
- Windowed NMS: masks sorted by area, largest first; each kept mask suppresses, among the next
  `window` masks, those with IoU > the threshold. The protected variant first drops every mask
  with IoU > the threshold against a protected mask (the instance), which is always kept.

Overlaps come from pycocotools on the RLEs (`iou` with a crowd flag gives |a & b| / |a|), never
from dense arrays.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

INSTANCE_MIN_SHARE = 0.05
INSIDE = 0.8


def inside_matrix(rles: list[dict], others: list[dict] | None = None) -> np.ndarray:
    """M[i, j] = |rles[i] & others[j]| / |rles[i]| (0 for an empty mask)."""
    others = rles if others is None else others
    if not rles or not others:
        return np.zeros((len(rles), len(others)))
    return np.asarray(coco_mask.iou(rles, others, [1] * len(others)), dtype=np.float64)


def iou_matrix(rles: list[dict]) -> np.ndarray:
    if not rles:
        return np.zeros((0, 0))
    return np.asarray(coco_mask.iou(rles, rles, [0] * len(rles)), dtype=np.float64)


def divide(rles: list[dict], height: int, width: int, min_share: float = INSTANCE_MIN_SHARE
           ) -> tuple[list[int], dict[int, list[int]]]:
    """(instance indices, {instance index: part indices}) among the detections."""
    areas = np.array([int(coco_mask.area(r)) for r in rles], dtype=np.int64)
    # Only big detections can be instances: overlaps of those against all, not all against all.
    big = [i for i in range(len(rles)) if areas[i] / float(height * width) > min_share]
    inside = inside_matrix([rles[i] for i in big], rles)
    for row, i in enumerate(big):
        inside[row, i] = 0.0
    instances = [i for row, i in enumerate(big) if not (inside[row] > INSIDE).any()]
    held = inside_matrix(rles, [rles[i] for i in instances])  # held[j, k]: share of j inside k
    parts = {i: [j for j in range(len(rles)) if j != i and areas[j] > 0 and held[j, k] > INSIDE
                 and rles[j]["counts"] != rles[i]["counts"]] for k, i in enumerate(instances)}
    return instances, parts


def windowed_nms(rles: list[dict], threshold: float, window: int = 4) -> list[int]:
    """Kept indices (in area order, largest first): each kept mask suppresses, among the next
    `window` masks, those with IoU > threshold."""
    return _window_sweep(rles, threshold, window, protected=[])


def protected_nms(protected: list[dict], rles: list[dict], threshold: float,
                  window: int = 4) -> list[int]:
    """Indices into `rles` that survive: not IoU > threshold with any protected mask, then the
    windowed NMS among the survivors (a mask dropped by a protected one suppresses nothing)."""
    return _window_sweep(rles, threshold, window, protected)


def _window_sweep(rles: list[dict], threshold: float, window: int, protected: list[dict]) -> list[int]:
    areas = [int(coco_mask.area(r)) for r in rles]
    order = sorted(range(len(rles)), key=lambda i: -areas[i])  # stable: ties keep input order
    if not order:
        return []
    kept = [True] * len(order)
    if protected:
        against = np.asarray(coco_mask.iou([rles[i] for i in order], protected, [0] * len(protected)),
                             dtype=np.float64).reshape(len(order), len(protected))
        kept = [not (row > threshold).any() for row in against]
    ious = iou_matrix([rles[i] for i in order])
    for rank in range(len(order)):
        if not kept[rank]:
            continue
        for later in range(rank + 1, min(len(order), rank + 1 + window)):
            if ious[rank, later] > threshold:
                kept[later] = False
    return [order[rank] for rank in range(len(order)) if kept[rank]]
