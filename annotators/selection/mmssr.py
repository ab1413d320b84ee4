"""mmSSR selection, vectorised: round-robin over capabilities, style x source bins per capability.

For budget N: while the selection S is short of N and capabilities remain, each remaining
capability c in turn gets b = max((N - |S|) // |C|, 1) slots (never more than what is left).
Its candidates are the unselected samples with score_c > threshold, best score first (ties by
a seeded permutation). They fall into bins (style combination x source); the non-empty bins are
visited smallest first (ties by bin code) with quota max(b // n_bins, 1), a bin's unused quota
carried to the next, larger one, and the last bin allowed whatever is left of b (so a capability
with enough candidates always fills its b). A capability that yields nothing is dropped.

Fixes over the released code: the loop ends cleanly when every capability runs out before N
(no division by zero); `source` is optional; ties are deterministic under the seed.

Speed: each capability's candidates are sorted once (bin, -score, tie) up front. A turn then
only counts the still-unselected candidates per bin (one `reduceat`) and takes each bin's
first k of them through a within-bin rank (one `cumsum`), so a turn is O(candidates) in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotators.selection.common import tie_positions


@dataclass
class _CapabilityQueue:
    order: np.ndarray  # candidate sample indices sorted by (bin, -score, tie position)
    starts: np.ndarray  # start of each bin's segment in `order`
    bins: np.ndarray  # bin code of each segment
    segment: np.ndarray  # segment index of each position in `order`


def _queue(scores: np.ndarray, bins: np.ndarray, candidates: np.ndarray, tie_order: np.ndarray):
    items = tie_order[candidates[tie_order]]  # candidates, in tie order
    items = items[np.argsort(-scores[items], kind="stable")]
    items = items[np.argsort(bins[items], kind="stable")]
    item_bins = bins[items]
    if len(items) == 0:
        empty = np.zeros(0, np.int64)
        return _CapabilityQueue(items, empty, empty, empty)
    starts = np.flatnonzero(np.r_[True, item_bins[1:] != item_bins[:-1]])
    lengths = np.diff(np.r_[starts, len(items)])
    segment = np.repeat(np.arange(len(starts)), lengths)
    return _CapabilityQueue(items, starts, item_bins[starts], segment)


def _bin_allowances(sizes: np.ndarray, bin_ids: np.ndarray, slots: int) -> np.ndarray:
    """How many to take from each bin: smallest bins first, unused quota carried onwards."""
    allowed = np.zeros(len(sizes), np.int64)
    nonempty = np.flatnonzero(sizes > 0)
    if len(nonempty) == 0 or slots <= 0:
        return allowed
    visit = nonempty[np.lexsort((bin_ids[nonempty], sizes[nonempty]))]
    quota = max(slots // len(visit), 1)
    carry, left = 0, slots
    for position, segment in enumerate(visit):  # loops over bins (tens), never over samples
        allow = left if position == len(visit) - 1 else min(quota + carry, left)
        take = min(allow, int(sizes[segment]))
        allowed[segment] = take
        carry = allow - take
        left -= take
        if left == 0:
            break
    return allowed


def _take(queue: _CapabilityQueue, taken: np.ndarray, slots: int) -> np.ndarray:
    if len(queue.order) == 0:
        return queue.order
    alive = ~taken[queue.order]
    alive_count = np.cumsum(alive)
    sizes = np.add.reduceat(alive.astype(np.int64), queue.starts)
    allowed = _bin_allowances(sizes, queue.bins, slots)
    alive_before = (alive_count - alive)[queue.starts]
    rank = alive_count - 1 - alive_before[queue.segment]
    return queue.order[alive & (rank < allowed[queue.segment])]


def mmssr_select(scores: np.ndarray, bins: np.ndarray, budget: int, *, eligible: np.ndarray | None = None,
                 threshold: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Select `budget` samples. Returns (selected mask, capability index per sample or -1).

    scores: (n, C) float, NaN = unscored; bins: (n,) int codes of style x source.
    """
    n, n_capabilities = scores.shape
    eligible = np.ones(n, bool) if eligible is None else eligible
    ties = np.argsort(tie_positions(n, seed))  # sample indices in tie order
    with np.errstate(invalid="ignore"):
        queues = [_queue(scores[:, c], bins, eligible & (scores[:, c] > threshold), ties)
                  for c in range(n_capabilities)]
    taken = np.zeros(n, bool)
    capability_of = np.full(n, -1, np.int64)
    budget = min(budget, int(eligible.sum()))
    count = 0
    remaining = [c for c in range(n_capabilities) if len(queues[c].order)]
    while count < budget and remaining:
        per_capability = max((budget - count) // len(remaining), 1)
        for c in list(remaining):
            if count >= budget:
                break
            picks = _take(queues[c], taken, min(per_capability, budget - count))
            if len(picks) == 0:
                remaining.remove(c)
                continue
            taken[picks] = True
            capability_of[picks] = c
            count += len(picks)
    return taken, capability_of
