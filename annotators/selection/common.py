"""What every selection method shares: the budget, deterministic tie order, bins, the summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from schemas.contract import CAPABILITY_FIELDS, STYLES


def resolve_budget(budget: float, pool: int) -> int:
    """A ratio in (0, 1] of the pool, or a count >= 1 (1 means the whole pool); capped at the pool."""
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if budget <= 1:
        count = int(np.floor(budget * pool + 0.5))
        return max(count, 1) if pool else 0
    if budget != int(budget):
        raise ValueError(f"budget {budget} is neither a ratio in (0, 1] nor a whole count")
    return min(int(budget), pool)


def tie_positions(n: int, seed: int) -> np.ndarray:
    """position[i] = where sample i stands among equals; the same seed gives the same order."""
    position = np.empty(n, np.int64)
    position[np.random.default_rng(seed).permutation(n)] = np.arange(n)
    return position


def bin_codes(styles: Sequence[Sequence[str] | None], sources: Sequence[str | None] | None) -> np.ndarray:
    """One bin per (style combination, source); codes follow the sorted bin keys (deterministic)."""
    style_keys = ["+".join(sorted(s)) if s is not None and len(s) else "" for s in styles]
    if sources is None:
        keys = pd.Series(style_keys, dtype=object)
    else:
        keys = pd.Series(style_keys, dtype=object) + "|" + pd.Series(
            ["" if s is None else str(s) for s in sources], dtype=object)
    codes, _ = pd.factorize(keys, sort=True)
    return codes.astype(np.int64)


def summary_table(scores: np.ndarray, styles: Sequence[Sequence[str] | None], eligible: np.ndarray,
                  selected: np.ndarray, threshold: float = 0.0) -> pd.DataFrame:
    """Counts per capability (score > threshold) and per style: pool vs selected."""
    rows = []
    with np.errstate(invalid="ignore"):
        above = np.nan_to_num(scores, nan=-np.inf) > threshold
    for j, name in enumerate(CAPABILITY_FIELDS):
        rows.append(("capability", name, int((above[:, j] & eligible).sum()),
                     int((above[:, j] & selected).sum())))
    for style in STYLES:
        has = np.fromiter((s is not None and style in s for s in styles), bool, len(styles))
        rows.append(("style", style, int((has & eligible).sum()), int((has & selected).sum())))
    rows.append(("total", "samples", int(eligible.sum()), int(selected.sum())))
    return pd.DataFrame(rows, columns=["group", "name", "pool", "selected"])
