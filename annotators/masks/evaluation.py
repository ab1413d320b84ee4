"""How good a mined hierarchy is against a known one, and whether it is well-formed."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from annotators.masks.forest import MaskForest, containment_matrix
from schemas import masks as codec

AR_THRESHOLDS = np.arange(0.5, 0.96, 0.05)


def best_ious(gt: list[dict], mined: list[dict]) -> np.ndarray:
    """For each ground-truth mask, the best IoU among the mined masks."""
    if not gt:
        return np.zeros(0)
    if not mined:
        return np.zeros(len(gt))
    return codec.iou(gt, mined).max(axis=1)


def _summary(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"count": 0, "mean_iou": 0.0, "recall@0.5": 0.0, "recall@0.75": 0.0}
    return {
        "count": len(values),
        "mean_iou": float(values.mean()),
        "recall@0.5": float((values >= 0.5).mean()),
        "recall@0.75": float((values >= 0.75).mean()),
    }


def hierarchical_recall(gt: list[tuple[dict, int]], mined: list[dict]) -> dict:
    """gt: (rle, level) pairs. Per level and overall: mean best IoU, recall at 0.5 and 0.75."""
    values = best_ious([rle for rle, _ in gt], mined)
    by_level: dict[int, list[float]] = defaultdict(list)
    for (_, level), value in zip(gt, values, strict=True):
        by_level[level].append(float(value))
    return {
        "overall": _summary(values),
        "levels": {level: _summary(np.asarray(v)) for level, v in sorted(by_level.items())},
    }


def average_recall(gt: list[dict], ranked: list[dict], ks: tuple[int, ...] = (10, 100, 1000)) -> dict:
    """AR@k: recall averaged over IoU 0.5:0.95, using the k best-ranked mined masks."""
    out = {}
    for k in ks:
        values = best_ious(gt, ranked[:k])
        out[f"AR@{k}"] = float(np.mean([(values >= t).mean() for t in AR_THRESHOLDS])) if len(gt) else 0.0
    return out


def nesting_violations(forest: MaskForest, threshold: float = 0.9) -> list[str]:
    """Nodes whose level is not their parent's + 1, or that lie less than `threshold` inside it."""
    problems = []
    for index, node in enumerate(forest.nodes):
        if node.parent is None:
            if node.level != 0:
                problems.append(f"root {index} has level {node.level}")
            continue
        parent = forest.nodes[node.parent]
        if node.level != parent.level + 1:
            problems.append(f"node {index} level {node.level} under level {parent.level}")
        inside = containment_matrix([node.rle, parent.rle])[0, 1]
        if inside < threshold:
            problems.append(f"node {index} only {inside:.2f} inside its parent {node.parent}")
    return problems


def granularity_order_violations(pairs: list[dict]) -> int:
    """Within an instance, a larger mask never has a smaller granularity."""
    per_instance: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
    for pair in pairs:
        per_instance[pair["instance_id"]][pair["segment_id"]] = (pair["area"], pair["granularity"])
    violations = 0
    for masks in per_instance.values():
        ordered = sorted(masks.values())
        for (area_a, g_a), (area_b, g_b) in zip(ordered, ordered[1:], strict=False):
            if area_b > area_a and g_b < g_a - 1e-6:
                violations += 1
    return violations
