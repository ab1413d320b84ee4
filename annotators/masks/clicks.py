"""Where a training click may fall inside a mask, and GraCo's proposal rules.

GraCo (any_granularity_generator.py, REFERENCE.md section 5):
- click region: the proposal itself eroded `ceil(0.1 * sqrt(area))` times by a 3x3 square kernel,
  the image border not eroding (pixels outside the image count as inside); the proposal itself
  when nothing is left; the click is uniform inside that region;
- (the scale granularity, the part-larger-than-object rule and the residual rule live in
  `granularity.py`).

Everything works on a mask's runs or on a window (a box holding the whole mask, zero outside
it), never on a full-resolution array.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt, minimum_filter1d

from annotators.masks.rle_window import RunMask


def erosion_iterations(area: int) -> int:
    return math.ceil(0.1 * math.sqrt(area))


def erode_square(window: np.ndarray, iterations: int, at_border: tuple[bool, bool, bool, bool]
                 ) -> np.ndarray:
    """`iterations` erosions by a 3x3 square = one erosion by a (2k+1)^2 square, done as two
    separable running minima. `window` holds the whole mask (zero outside it); `at_border` says
    which of its sides (top, bottom, left, right) lie on the image border: beyond those the image
    counts as inside, beyond the others the mask is known to be empty (a row of zeros)."""
    top, bottom, left, right = (0 if edge else 1 for edge in at_border)
    padded = np.pad(window.view(np.uint8) if window.dtype == bool else window.astype(np.uint8),
                    ((top, bottom), (left, right)))
    size = 2 * iterations + 1
    eroded = minimum_filter1d(padded, size, axis=0, mode="constant", cval=1)
    eroded = minimum_filter1d(eroded, size, axis=1, mode="constant", cval=1)
    rows, cols = padded.shape
    return eroded[top:rows - bottom, left:cols - right].view(bool)


def sample(region: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` uniform (row, col) picks among the True pixels of `region` (row-major order);
    with replacement only when there are fewer pixels than picks."""
    rows, cols = np.nonzero(region)
    picks = rng.choice(len(rows), size=count, replace=len(rows) < count)
    return rows[picks], cols[picks]


def graco_click_region(window: np.ndarray, y0: int, x0: int, height: int, width: int,
                       area: int) -> tuple[np.ndarray, bool]:
    """GraCo's click region inside the window placed at (y0, x0) of a height x width image, and
    whether the erosion left nothing (then the region is the proposal itself)."""
    win_h, win_w = window.shape
    at_border = (y0 == 0, y0 + win_h == height, x0 == 0, x0 + win_w == width)
    region = erode_square(window, erosion_iterations(area), at_border)
    if region.any():
        return region, False
    return window, True


def instance_clicks(window: np.ndarray, y0: int, x0: int, area: int, count: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """The earlier `instance_path` rule, kept as a named option: Euclidean erosion by
    ceil(0.1 * sqrt(area)) px where the image border erodes too (window padded with zeros)."""
    radius = erosion_iterations(area)
    inner = distance_transform_edt(np.pad(window, 1))[1:-1, 1:-1] > radius
    emptied = not inner.any()
    rows, cols = sample(window if emptied else inner, count, rng)
    return np.stack([cols + x0, rows + y0], axis=1), emptied


def square_eroded_at(runs: RunMask, iterations: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether each pixel (x, y) survives GraCo's erosion, read from the runs alone: its
    (2k+1)^2 neighbourhood, clipped to the image (outside counts as inside), is all foreground,
    i.e. in every neighbouring column the rows y-k..y+k lie inside one run."""
    height, width = runs.height, runs.width
    cols = xs[:, None] + np.arange(-iterations, iterations + 1)[None, :]
    in_image = (cols >= 0) & (cols < width)
    cols = np.clip(cols, 0, width - 1)
    first = cols * height + np.maximum(ys - iterations, 0)[:, None]
    last = cols * height + np.minimum(ys + iterations, height - 1)[:, None]
    return np.all(runs.covers(first, last) | ~in_image, axis=1)


def graco_clicks_on_runs(runs: RunMask, count: int, rng: np.random.Generator,
                         rounds: int = 6) -> tuple[np.ndarray, bool]:
    """GraCo's clicks without decoding the mask: i.i.d. uniform foreground pixels, kept when they
    survive the erosion (rejection sampling is exactly uniform on the eroded region). A mask whose
    eroded region is too small for that (thin masks) is eroded densely in its box instead.
    Returns (count, 2) integer (x, y) clicks and whether the erosion left nothing."""
    iterations = erosion_iterations(runs.area)
    kept: list[np.ndarray] = []
    need = count
    for _ in range(rounds):
        flat = runs.sample_flat(max(8, 4 * need), rng)
        xs, ys = np.divmod(flat, runs.height)
        good = np.flatnonzero(square_eroded_at(runs, iterations, xs, ys))[:need]
        kept.append(np.stack([xs[good], ys[good]], axis=1))
        need -= len(good)
        if need == 0:
            return np.concatenate(kept), False
    y0, y1, x0, x1 = runs.box()
    region, emptied = graco_click_region(runs.window(y0, y1, x0, x1), y0, x0, runs.height,
                                         runs.width, runs.area)
    rows, cols = np.nonzero(region)
    picks = rng.integers(0, len(rows), size=need)
    kept.append(np.stack([cols[picks] + x0, rows[picks] + y0], axis=1))
    return np.concatenate(kept), emptied
