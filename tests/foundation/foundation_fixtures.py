"""Helpers for the foundation tests: small crops of real scikit-image photos, masks, JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from schemas import masks


def photo(name: str, height: int = 48, width: int = 64) -> np.ndarray:
    """A crop of a real photo, RGB uint8."""
    pixels = getattr(skdata, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return np.ascontiguousarray(pixels[40:40 + height, 60:60 + width, :3])


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def blob(height: int, width: int, box: tuple[int, int, int, int], hole: bool = False) -> np.ndarray:
    """A rectangle mask (x0, y0, x1, y1), optionally with a hole in the middle."""
    mask = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 1
    if hole:
        cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
        mask[cy - 2:cy + 2, cx - 2:cx + 2] = 0
    return mask


def mglmm_string(mask: np.ndarray) -> str:
    import base64

    rle = masks.encode_array(mask)
    return json.dumps({"size": rle["size"],
                       "counts": base64.b64encode(rle["counts"].encode("ascii")).decode("ascii")})


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path
