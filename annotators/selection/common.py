"""What every selection method shares: the budget, deterministic tie order, the summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from schemas.contract import CAPABILITY_FIELDS, STYLES


def resolve_budget(budget: float, pool: int) -> int:
    """A ratio in (0, 1] of the pool, or a count >= 1 (1 means the whole pool); capped at the pool.

    A ratio gives int(pool * ratio), rounded down as mmSSR's reference does (`selected_len`)."""
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if budget <= 1:
        return int(pool * budget)
    if budget != int(budget):
        raise ValueError(f"budget {budget} is neither a ratio in (0, 1] nor a whole count")
    return min(int(budget), pool)


def tie_positions(n: int, seed: int) -> np.ndarray:
    """position[i] = where sample i stands among equals; the same seed gives the same order."""
    position = np.empty(n, np.int64)
    position[np.random.default_rng(seed).permutation(n)] = np.arange(n)
    return position


def summary_table(scores: np.ndarray, styles: Sequence[Sequence[str] | None], eligible: np.ndarray,
                  selected: np.ndarray, threshold: float = 0.0) -> pd.DataFrame:
    """Counts per capability (score > threshold) and per style: pool vs selected."""
    rows = []
    with np.errstate(invalid="ignore"):
        above = np.nan_to_num(scores, nan=-np.inf) > threshold
    for j, name in enumerate(CAPABILITY_FIELDS):
        rows.append(("capability", name, int((above[:, j] & eligible).sum()),
                     int((above[:, j] & selected).sum())))
    observed = {style for row in styles if row is not None for style in row}
    for style in [*STYLES, *sorted(observed - set(STYLES))]:  # e.g. the mmssr styler's own names
        has = np.fromiter((s is not None and style in s for s in styles), bool, len(styles))
        rows.append(("style", style, int((has & eligible).sum()), int((has & selected).sum())))
    rows.append(("total", "samples", int(eligible.sum()), int(selected.sum())))
    return pd.DataFrame(rows, columns=["group", "name", "pool", "selected"])
