"""Granularity of a mask inside its instance tree, by two published definitions (selectable by name).

- `unsamv2` (UnSAMv2 compute_granularity.py): over an instance and its parts,
  g = 0.1 + 0.9 * (sqrt(A) - sqrt(A_min)) / (sqrt(A_max) - sqrt(A_min)); a lone instance gets 1.0.
- `graco` (GraCo scale granularity): g = max(0.1, round(|part| / |object|, 1)) with numpy's round
  (half to even on the scaled value, as GraCo computes it: 3/20 -> 0.2, 9/20 -> 0.4, 13/20 -> 0.6,
  19/20 -> 1.0; Python's `round` gives 0.1 for 3/20); the object, and a part larger than its
  object (which GraCo replaces by the object), 1.0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

LOW, HIGH = 0.1, 1.0


def unsamv2(areas: Sequence[int]) -> list[float]:
    """`areas[0]` is the instance; the rest are its parts."""
    roots = np.sqrt(np.asarray(areas, dtype=np.float64))
    low, high = roots.min(), roots.max()
    if len(roots) == 1 or high == low:
        return [HIGH] * len(roots)
    values = LOW + (HIGH - LOW) * (roots - low) / (high - low)
    return np.clip(np.round(values, 6), LOW, HIGH).tolist()  # 1 - 1e-16 must read as 1.0


def graco_scale(part_area: int, object_area: int) -> float:
    """One part's GraCo scale granularity; a part larger than its object counts as the object."""
    if object_area <= 0:
        return LOW
    if part_area >= object_area:
        return HIGH
    return max(LOW, float(np.round(part_area / object_area, 1)))


def residual_kept(residual_area: int, object_area: int) -> bool:
    """GraCo keeps `object - part` as a further proposal when its rounded share is > 0.1."""
    return object_area > 0 and float(np.round(residual_area / object_area, 1)) > LOW


def graco(areas: Sequence[int]) -> list[float]:
    """`areas[0]` is the object; a part's granularity is its share of the object, to one decimal."""
    return [HIGH] + [graco_scale(int(a), int(areas[0])) for a in areas[1:]]


DEFINITIONS: dict[str, Callable[[Sequence[int]], list[float]]] = {"unsamv2": unsamv2, "graco": graco}


def granularity(definition: str, areas: Sequence[int]) -> list[float]:
    """Granularities of an instance tree's masks (instance first), each in [0.1, 1]."""
    try:
        compute = DEFINITIONS[definition]
    except KeyError:
        raise ValueError(f"unknown granularity definition {definition!r}; "
                         f"choose one of {', '.join(DEFINITIONS)}") from None
    if not areas:
        return []
    return compute(areas)
