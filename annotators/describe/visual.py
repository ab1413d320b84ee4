"""What the LMM is shown: the whole image with one object highlighted, or crops of a track."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.segmentation import find_boundaries

MAX_SIDE = 512  # images sent to a model are bounded; processors resize further anyway
HIGHLIGHT_RGB = np.array([255, 0, 0], dtype=np.uint8)


def bounded(pixels: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    image = Image.fromarray(pixels)
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image)


def highlight(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """MGLMM-style highlight: outside the mask dimmed, the mask's outline drawn in red."""
    out = pixels.astype(np.float32)
    out[~mask] *= 0.45
    out = out.astype(np.uint8)
    out[find_boundaries(mask, mode="inner")] = HIGHLIGHT_RGB
    return bounded(out)


def crop(pixels: np.ndarray, bbox: list[float], margin: float = 0.1) -> np.ndarray:
    """The box plus a margin, clipped to the image (at least one pixel)."""
    height, width = pixels.shape[:2]
    x, y, w, h = bbox
    dx, dy = w * margin, h * margin
    x0, y0 = int(max(0, np.floor(x - dx))), int(max(0, np.floor(y - dy)))
    x1 = int(min(width, max(x0 + 1, np.ceil(x + w + dx))))
    y1 = int(min(height, max(y0 + 1, np.ceil(y + h + dy))))
    return bounded(pixels[y0:y1, x0:x1])


def box_core(bbox: list[float], shape: tuple[int, int], keep: float = 0.5) -> np.ndarray:
    """The central part of a box as a mask: for box-only annotations (MOT) the box's rim is
    mostly background, so colours are read from its core."""
    height, width = shape
    x, y, w, h = bbox
    mask = np.zeros((height, width), dtype=bool)
    cx, cy = x + w / 2, y + h / 2
    x0, x1 = int(max(0, cx - keep * w / 2)), int(min(width, max(cx + keep * w / 2, cx + 1)))
    y0, y1 = int(max(0, cy - keep * h / 2)), int(min(height, max(cy + keep * h / 2, cy + 1)))
    mask[y0:y1, x0:x1] = True
    return mask
