"""Windows of COCO RLE masks: decode only a box of a mask, encode a box back to a full-size RLE.

pycocotools decodes an RLE only to a full-resolution dense array (and encodes only from one), so
mining every mask of a 1080p tree that way costs a 2 MB array per mask. Mining needs a mask only
inside its bounding box (a point lookup, containment, erosion), so this module hand-writes the two
small pieces pycocotools does not offer: the compressed counts string -> run lengths (the
LEB128-like code of maskApi.c `rleFrString`, vectorised), runs -> a dense window, and runs ->
the compressed string (`rleToString`, vectorised). Tests check all three against pycocotools.
"""

from __future__ import annotations

import numpy as np


def run_lengths(counts: str | bytes) -> np.ndarray:
    """COCO compressed counts -> int64 run lengths (zeros first), exactly as `rleFrString`.

    Each run is 5-bit chunks (char - 48), low chunk first, bit 0x20 = more chunks follow, bit 0x10
    of the last chunk = negative; from the fourth run on, a value is a delta to the run two back.
    """
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    chars = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if len(chars) == 0:
        return np.zeros(0, dtype=np.int64)
    last = np.flatnonzero((chars & 0x20) == 0)  # the final chunk of each value
    first = np.concatenate([[0], last[:-1] + 1])
    chunks = last - first + 1
    shift = 5 * (np.arange(len(chars)) - np.repeat(first, chunks))
    values = np.add.reduceat((chars & 0x1F) << shift, first)
    negative = (chars[last] & 0x10) != 0
    values = values - np.where(negative, np.left_shift(1, 5 * chunks), 0)
    runs = values.copy()
    # m > 2: cnts[m] = x[m] + cnts[m - 2]; two interleaved cumulative sums (odd, and even from 2).
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def counts_string(runs: np.ndarray) -> str:
    """Run lengths (zeros first) -> COCO compressed counts, exactly as `rleToString`: from the
    fourth run on a value is the delta to the run two back; each value is written as 5-bit
    chunks, low first, 0x20 = more follow, until the rest is 0 (or -1 with the sign bit set).
    Vectorised here so that a mask built from runs need not pass through a Python list."""
    runs = np.asarray(runs, dtype=np.int64)
    values = runs.copy()
    values[3:] -= runs[1:-2]
    shifted = values[:, None] >> (5 * np.arange(8))[None, :]  # arithmetic shifts: y_k = x >> 5k
    chunks = shifted[:, :7] & 0x1F
    rest = shifted[:, 1:]
    done = np.where((chunks & 0x10) != 0, rest == -1, rest == 0)
    count = np.argmax(done, axis=1) + 1  # chunks written per value
    position = np.arange(7)[None, :]
    chars = chunks + 48 + np.where(position < count[:, None] - 1, 0x20, 0)
    return chars[position < count[:, None]].astype(np.uint8).tobytes().decode("ascii")


class RunMask:
    """One mask as foreground intervals [start, end) over the column-major flattening (the order
    COCO RLE runs in): areas, point lookups, set difference and uniform sampling work on the
    intervals; `window` decodes a box when a dense view is needed."""

    def __init__(self, rle: dict):
        self.height, self.width = int(rle["size"][0]), int(rle["size"][1])
        runs = run_lengths(rle["counts"])
        ends = np.cumsum(runs)
        starts = ends - runs
        # Odd runs (zero-based) are foreground: keep [start, end) of each non-empty one.
        self._set(starts[1::2], ends[1::2])

    @classmethod
    def from_intervals(cls, height: int, width: int, starts: np.ndarray, ends: np.ndarray) -> RunMask:
        mask = cls.__new__(cls)
        mask.height, mask.width = height, width
        mask._set(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))
        return mask

    def _set(self, starts: np.ndarray, ends: np.ndarray) -> None:
        keep = ends > starts
        self.starts, self.ends = starts[keep], ends[keep]
        self.cumulative = np.cumsum(self.ends - self.starts)

    @property
    def area(self) -> int:
        return int(self.cumulative[-1]) if len(self.cumulative) else 0

    def window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Dense bool (y1 - y0, x1 - x0) view of the mask inside the box; nothing else decoded."""
        h = self.height
        lo, hi = x0 * h, x1 * h  # the columns x0..x1 as one flat band
        first = np.searchsorted(self.ends, lo, side="right")
        last = np.searchsorted(self.starts, hi, side="left")
        s = np.clip(self.starts[first:last], lo, hi) - lo
        e = np.clip(self.ends[first:last], lo, hi) - lo
        # Background, run, background, run, ..., background: alternate 0/1 over the band.
        bounds = np.concatenate([[0], np.stack([s, e], axis=1).ravel(), [hi - lo]])
        values = np.zeros(len(bounds) - 1, dtype=bool)
        values[1::2] = True
        band = np.repeat(values, np.diff(bounds))
        return band.reshape(x1 - x0, h)[:, y0:y1].T

    def contains_flat(self, flat: np.ndarray) -> np.ndarray:
        """Membership of flat (column-major) positions, by binary search over the intervals."""
        if not len(self.starts):
            return np.zeros(np.shape(flat), dtype=bool)
        index = np.searchsorted(self.ends, flat, side="right")
        found = index < len(self.starts)
        return found & (self.starts[np.minimum(index, len(self.starts) - 1)] <= flat)

    def contains(self, x: int, y: int) -> bool:
        return bool(self.contains_flat(np.array([x * self.height + y]))[0])

    def covers(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Whether each flat range [first, last] lies inside one interval (all foreground)."""
        if not len(self.starts):
            return np.zeros(np.shape(first), dtype=bool)
        index = np.minimum(np.searchsorted(self.ends, first, side="right"), len(self.starts) - 1)
        return (self.starts[index] <= first) & (self.ends[index] > last)

    def minus(self, other: RunMask) -> RunMask:
        """self AND NOT other, on intervals. Only self's intervals that overlap other's span can
        change: those are cut at every boundary of either mask, each piece kept when it is inside
        self and outside other, touching pieces joined; the rest are copied."""
        if not len(other.starts) or not len(self.starts):
            return RunMask.from_intervals(self.height, self.width, self.starts, self.ends)
        first = np.searchsorted(self.ends, other.starts[0], side="right")
        last = np.searchsorted(self.starts, other.ends[-1], side="left")
        starts, ends = self.starts[first:last], self.ends[first:last]
        bounds = np.unique(np.concatenate([starts, ends, other.starts, other.ends]))
        lo, hi = bounds[:-1], bounds[1:]
        keep = self.contains_flat(lo) & ~other.contains_flat(lo)
        lo, hi = lo[keep], hi[keep]
        if len(lo):
            joined = lo[1:] == hi[:-1]
            lo, hi = lo[np.concatenate([[True], ~joined])], hi[np.concatenate([~joined, [True]])]
        return RunMask.from_intervals(
            self.height, self.width, np.concatenate([self.starts[:first], lo, self.starts[last:]]),
            np.concatenate([self.ends[:first], hi, self.ends[last:]]))

    def sample_flat(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` i.i.d. uniform foreground positions (flat, column-major)."""
        picks = rng.integers(0, self.area, size=count)
        run = np.searchsorted(self.cumulative, picks, side="right")
        return self.ends[run] - (self.cumulative[run] - picks)

    def box(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1): the bounding box, from the intervals."""
        h = self.height
        x0, x1 = int(self.starts[0] // h), int((self.ends[-1] - 1) // h) + 1
        whole = (self.ends - self.starts >= h) | (self.starts // h != (self.ends - 1) // h)
        if whole.any():  # an interval crossing a column boundary covers the column ends
            y0, y1 = 0, h
        else:
            y0, y1 = int((self.starts % h).min()), int(((self.ends - 1) % h).max()) + 1
        return y0, y1, x0, x1

    def to_rle(self) -> dict:
        """Back to COCO RLE (str counts) through pycocotools' compression of uncompressed counts."""
        edges = np.stack([self.starts, self.ends], axis=1).ravel()
        lengths = np.diff(np.concatenate([[0], edges, [self.height * self.width]]))
        if len(lengths) > 1 and lengths[-1] == 0:
            lengths = lengths[:-1]  # pycocotools ends on the last run, not an empty background run
        return {"size": [self.height, self.width], "counts": counts_string(lengths)}


def encode_window(window: np.ndarray, height: int, width: int, y0: int, x0: int) -> dict:
    """A dense window placed at (y0, x0) in an otherwise empty height x width image -> RLE (str
    counts), via uncompressed counts: no full-resolution array is built."""
    win_h, win_w = window.shape
    band = np.zeros((win_w, height), dtype=bool)  # the window's columns, full height, column-major
    band[:, y0:y0 + win_h] = window.T
    flat = band.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    lengths = np.diff(bounds)
    if flat.size and flat[0]:
        lengths = np.concatenate([[0], lengths])
    lengths[0] += x0 * height  # the empty columns before the window
    tail = (width - x0 - win_w) * height
    if len(lengths) % 2 == 1:  # ends on a background run: extend it
        lengths[-1] += tail
    elif tail:
        lengths = np.concatenate([lengths, [tail]])
    return {"size": [height, width], "counts": counts_string(lengths)}
