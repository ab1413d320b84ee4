"""Windows of COCO RLE masks: decode only a box of a mask, encode a box back to a full-size RLE.

pycocotools decodes an RLE only to a full-resolution dense array (and encodes only from one), so
mining every mask of a 1080p tree that way costs a 2 MB array per mask. Mining needs a mask only
inside its bounding box (a point lookup, containment, erosion), so this module hand-writes the two
small pieces pycocotools does not offer: the compressed counts string -> run lengths (the
LEB128-like code of maskApi.c `rleFrString`, vectorised), and runs -> a dense window. Encoding
goes back through pycocotools (`frPyObjects` compresses uncompressed counts).
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask


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


class RunMask:
    """One mask as run boundaries over the column-major flattening, decoded window by window."""

    def __init__(self, rle: dict):
        self.height, self.width = int(rle["size"][0]), int(rle["size"][1])
        runs = run_lengths(rle["counts"])
        ends = np.cumsum(runs)
        starts = ends - runs
        # Odd runs (1-based even) are foreground: keep [start, end) of each non-empty one.
        self.starts, self.ends = starts[1::2], ends[1::2]
        keep = self.ends > self.starts
        self.starts, self.ends = self.starts[keep], self.ends[keep]

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

    def contains(self, x: int, y: int) -> bool:
        """Point lookup by binary search over the runs: no decode at all."""
        flat = x * self.height + y
        index = np.searchsorted(self.ends, flat, side="right")
        return bool(index < len(self.starts) and self.starts[index] <= flat)


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
    compressed = coco_mask.frPyObjects({"size": [height, width], "counts": lengths.tolist()},
                                       height, width)
    counts = compressed["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
