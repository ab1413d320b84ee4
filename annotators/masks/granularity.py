"""Granularity of a mask inside its instance tree, by two published definitions (selectable by name).

- `unsamv2` (UnSAMv2 compute_granularity.py): over an instance and its parts,
  g = 0.1 + 0.9 * (sqrt(A) - sqrt(A_min)) / (sqrt(A_max) - sqrt(A_min)); a lone instance gets 1.0.
- `graco` (GraCo scale granularity): g = max(0.1, round(|part| / |object|, 1)); the object 1.0.
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


def graco(areas: Sequence[int]) -> list[float]:
    """`areas[0]` is the object; a part's granularity is its share of the object, to one decimal."""
    whole = float(areas[0])
    values = [HIGH] + [max(LOW, round(float(a) / whole, 1)) if whole > 0 else LOW for a in areas[1:]]
    return [min(HIGH, v) for v in values]


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
