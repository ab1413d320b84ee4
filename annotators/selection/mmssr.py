"""mmSSR budgeted selection, faithful to the reference (lyumengyao/mmssr, llava/select/mmssr.py).

For budget B: rounds until |S| = B. Each round gives every remaining capability
per_cap = max((B - |S|) // |C|, 1); capability c in turn runs `select` on its candidates
(unselected rows with score_c > threshold, best score first) with b = min(per_cap, B - |S|),
the picks leave the pool, and the round stops as soon as |S| >= B. A capability whose `select`
returned nothing is dropped after the round.

`select(candidates, b)`: every row sits in one bin per distinct style it has, the bin key being
`style + "+" + source` (a row with 3 styles is in 3 bins). Inside a bin the rows whose FIRST style
is the bin's come first (score order), then those whose second style is, and so on (the order
pandas' melt + groupby gives in the reference). Bins are visited smallest first with quota
q = max(b // n_bins, 1) and debt carried: take = min(q + debt, available), where available
excludes rows already taken in this call; the visit stops once b rows are taken. The last bin
takes only q + debt, so what is left of b waits for the next round.

The three defects of the released code are fixed, nothing else is changed:
1. a capability with no candidate makes the reference assert, and when every capability is
   dropped before B it divides by zero; here the capability is dropped and the loop stops, the
   shortfall is returned (`MmssrResult.shortfall`) for the caller to report;
2. after each round the reference reorders capabilities through a Python `set` (string hash,
   different per process); here the given order is kept;
3. the reference's ties are decided by pandas' unstable quicksort (equal scores, equal bin
   sizes); here equal scores are ordered by `tie_rank` (the caller passes the sample_id order),
   equal-sized bins by their key (the reference's groupby order, which is sorted by key).
Also `source` is optional (the reference requires an `image_source` field): missing -> "".

Speed: per capability, the (row, style) entries of its candidates are sorted once by
(bin, style position, -score, tie) (a 16-bit radix sort for integer scores). Live entries per
(capability, bin) are counted once and decremented as rows are taken, and each bin's segment has
a cursor past its dead prefix, so a `select` call costs O(bins + picks), never O(pool).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class StyleBins:
    """The (row, style position, bin) entries of a pool; bin codes follow the sorted bin keys."""

    rows: np.ndarray  # (E,) row index of each entry
    rank: np.ndarray  # (E,) position of the entry's style in its row's style list (0 = first)
    bins: np.ndarray  # (E,) bin code
    keys: list[str]  # bin code -> key "style+source"


def style_bins(styles, sources) -> StyleBins:
    """One entry per distinct style of each row, keyed `style + "+" + source`.

    styles: a list<string> Arrow column or a sequence of lists; sources: strings, or None.
    A row without styles gets the style "" (the reference splits the styler's empty answer into
    one empty piece, so such a row sits in the bin "+source"). Vectorised in Arrow: this runs on
    the whole pool (millions of rows) before any selection.
    """
    if isinstance(styles, pa.ChunkedArray):
        styles = styles.combine_chunks()
    if not isinstance(styles, pa.Array):
        styles = pa.array(list(styles), pa.list_(pa.string()))
    n = len(styles)
    if sources is None:
        source = pa.array([""] * n, pa.string())
    else:
        source = sources.combine_chunks() if isinstance(sources, pa.ChunkedArray) else (
            sources if isinstance(sources, pa.Array) else pa.array(list(sources), pa.string()))
        source = pc.fill_null(pc.cast(source, pa.string()), "")
    lengths = pc.fill_null(pc.list_value_length(styles), 0).to_numpy(zero_copy_only=False)
    empty = np.flatnonzero(lengths == 0)
    # flattened entries are in (row, style position) order; rows without a style go last
    rows = np.r_[pc.list_parent_indices(styles).to_numpy(zero_copy_only=False), empty].astype(np.int64)
    flat = pa.concat_arrays([pc.fill_null(pc.list_flatten(styles), ""),
                             pa.array([""] * len(empty), pa.string())])
    encoded = pc.dictionary_encode(pc.binary_join_element_wise(flat, pc.take(source, pa.array(rows)), "+"))
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")  # codes follow the sorted keys (the reference's groupby)
    recode = np.empty(len(order), np.int64)
    recode[order] = np.arange(len(order))
    codes = recode[encoded.indices.to_numpy(zero_copy_only=False)]
    # a style named twice in one row is one entry, at its first position (the reference's parse_sty)
    keep = np.ones(len(rows), bool)
    for back in range(1, int(lengths.max(initial=0))):
        same = (rows[back:] == rows[:-back]) & (codes[back:] == codes[:-back])
        keep[back:] &= ~same
    rows, codes = rows[keep], codes[keep]
    first = np.r_[True, rows[1:] != rows[:-1]]
    position = np.arange(len(rows), dtype=np.int64)
    rank = position - np.maximum.accumulate(np.where(first, position, 0))
    return StyleBins(rows, rank, codes, [str(k) for k in names[order]])


@dataclass
class _Queue:
    """One capability's candidate entries sorted by (bin, style position, -score, tie).

    `cursor[k]`: every entry of segment k before it belongs to a selected row (picks are always
    the first live entries of a segment, so the dead prefix only grows)."""

    rows: np.ndarray
    starts: np.ndarray  # start of each bin's segment
    ends: np.ndarray
    bins: np.ndarray  # bin code of each segment
    cursor: np.ndarray

    @classmethod
    def build(cls, rows: np.ndarray, bins: np.ndarray) -> _Queue:
        if len(rows) == 0:
            empty = np.zeros(0, np.int64)
            return cls(rows, empty, empty, empty, empty.copy())
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        return cls(rows, starts, np.r_[starts[1:], len(rows)], bins[starts], starts.copy())

    def first_live(self, segment: int, taken: np.ndarray, need: int) -> np.ndarray:
        """The first `need` live rows of a segment (fewer if it has fewer); advances the cursor."""
        position, end, found = int(self.cursor[segment]), int(self.ends[segment]), []
        step = max(2 * need, 64)
        while need > 0 and position < end:
            window = self.rows[position:min(position + step, end)]
            live = np.flatnonzero(~taken[window])[:need]
            found.append(window[live])
            need -= len(live)
            position += int(live[-1]) + 1 if need == 0 else len(window)
            step *= 2
        self.cursor[segment] = position
        return np.concatenate(found) if found else np.zeros(0, np.int64)


class _LiveCounts:
    """Live candidate entries per (capability, bin), updated as rows are taken: a `select` call
    then costs O(bins + picks), not O(pool)."""

    def __init__(self, queues: list[_Queue], entries: StyleBins, candidate: np.ndarray):
        self.n_bins = max(len(entries.keys), 1)
        self.counts = np.zeros((len(queues), self.n_bins), np.int64)
        for c, queue in enumerate(queues):
            self.counts[c, queue.bins] = queue.ends - queue.starts
        self.candidate = candidate  # (n, C) bool
        by_row = np.argsort(entries.rows, kind="stable")
        self.entry_bins = entries.bins[by_row]
        self.row_start = np.searchsorted(entries.rows[by_row], np.arange(len(candidate) + 1))

    def remove(self, rows: np.ndarray) -> None:
        starts, stops = self.row_start[rows], self.row_start[rows + 1]
        lengths = stops - starts
        entry = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        owner = np.repeat(rows, lengths)
        mask = self.candidate[owner]  # (entries, C): whose candidate the entry is
        slots = (np.arange(self.counts.shape[0])[None, :] * self.n_bins + self.entry_bins[entry][:, None])
        self.counts -= np.bincount(slots[mask], minlength=self.counts.size).reshape(self.counts.shape)


@dataclass
class _TieOrdered:
    """The pool's entries listed once in tie order, with their (bin, style position) group."""

    rows: np.ndarray
    bins: np.ndarray
    group: np.ndarray
    n_groups: int

    @classmethod
    def build(cls, entries: StyleBins, tie_rank: np.ndarray) -> _TieOrdered:
        by_tie = np.argsort(tie_rank[entries.rows], kind="stable")
        n_ranks = int(entries.rank.max(initial=0)) + 1
        bins = entries.bins[by_tie]
        return cls(entries.rows[by_tie], bins, bins * n_ranks + entries.rank[by_tie],
                   max(len(entries.keys), 1) * n_ranks)


def _queue(score: np.ndarray, pool: _TieOrdered, candidate: np.ndarray) -> _Queue:
    """The candidates' entries sorted by (bin, style position, -score, tie).

    mmSSR scores are integers 0-5: then one stable radix argsort of a 16-bit (group, score level)
    key does it, equal keys staying in tie order. Other scores take one int64 key sort. (A 4-key
    lexsort per capability over millions of entries was the slow part.)
    """
    chosen = np.flatnonzero(candidate[pool.rows])
    rows, group = pool.rows[chosen], pool.group[chosen]
    values = score[rows]
    top = float(values.max(initial=0.0))
    levels = top - values
    if len(values) and pool.n_groups * (top + 1) < 2**16 and np.array_equal(levels, np.round(levels)):
        key = (group * int(top + 1) + levels.astype(np.int64)).astype(np.uint16)
        order = np.argsort(key, kind="stable")
    else:
        position = np.empty(len(values), np.int64)
        position[np.argsort(-values, kind="stable")] = np.arange(len(values))
        order = np.argsort(group * max(len(values), 1) + position)
    return _Queue.build(rows[order], pool.bins[chosen][order])


def select_bins(queue: _Queue, counts: np.ndarray, live: _LiveCounts, taken: np.ndarray,
                budget: int) -> np.ndarray:
    """The reference's `select`: smallest bin first, quota + debt. Marks and returns the picks.
    counts: this capability's row of `live.counts` (a view, updated as rows are taken)."""
    if len(queue.rows) == 0 or budget <= 0:
        return np.zeros(0, np.int64)
    sizes = counts[queue.bins].copy()  # sizes at the call's start decide the visiting order
    present = np.flatnonzero(sizes > 0)
    if len(present) == 0:
        return np.zeros(0, np.int64)
    visit = present[np.lexsort((queue.bins[present], sizes[present]))]
    quota = max(budget // len(visit), 1)
    debt, count, picks = 0, 0, []
    for segment in visit:  # loops over bins (tens), never over samples
        if count >= budget:
            break
        available = int(counts[queue.bins[segment]])  # excludes rows taken earlier in this call
        take = min(quota + debt, available)
        debt = max(quota + debt - available, 0)
        if take:
            chosen = queue.first_live(segment, taken, take)
            taken[chosen] = True
            live.remove(chosen)
            picks.append(chosen)
            count += take
    return np.concatenate(picks) if picks else np.zeros(0, np.int64)


@dataclass
class MmssrResult:
    selected: np.ndarray  # (n,) bool
    capability_of: np.ndarray  # (n,) capability index that picked the row, -1 if none
    budget: int
    rounds: int = 0
    dropped: list[int] = field(default_factory=list)  # capabilities in the order they ran out

    @property
    def shortfall(self) -> int:
        return self.budget - int(self.selected.sum())


def mmssr_select(scores: np.ndarray, entries: StyleBins, budget: int, *,
                 eligible: np.ndarray | None = None, threshold: float = 0.0,
                 tie_rank: np.ndarray | None = None) -> MmssrResult:
    """Select `budget` rows. scores: (n, C) float, NaN never qualifies; entries: `style_bins(...)`;
    tie_rank: (n,) order among equal scores (default: row order)."""
    n, n_capabilities = scores.shape
    eligible = np.ones(n, bool) if eligible is None else np.asarray(eligible, bool)
    tie_rank = np.arange(n) if tie_rank is None else np.asarray(tie_rank)
    pool = _TieOrdered.build(entries, tie_rank)
    with np.errstate(invalid="ignore"):
        candidate = eligible[:, None] & (scores > threshold)
    queues = [_queue(scores[:, c], pool, candidate[:, c]) for c in range(n_capabilities)]
    live = _LiveCounts(queues, entries, candidate)
    taken = np.zeros(n, bool)
    result = MmssrResult(taken, np.full(n, -1, np.int64), budget)
    remaining = list(range(n_capabilities))
    count = 0
    while count < budget and remaining:
        result.rounds += 1
        per_capability = max((budget - count) // len(remaining), 1)
        dropped = []
        for c in remaining:
            picks = select_bins(queues[c], live.counts[c], live, taken, min(per_capability, budget - count))
            if len(picks) == 0:
                dropped.append(c)
            else:
                result.capability_of[picks] = c
                count += len(picks)
            if count >= budget:
                break
        remaining = [c for c in remaining if c not in dropped]  # keep the given order (defect 2)
        result.dropped.extend(dropped)
    return result
