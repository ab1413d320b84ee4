"""Helpers for the foundation tests: small crops of real scikit-image photos, masks, JSON files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco
from skimage import data as skdata

from schemas import masks
from schemas.contract import table_from_rows


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


def encoded(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    """The image file bytes of `pixels` in `fmt`."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def write_rows(dataset, config: str, rows: list[dict]) -> None:
    """Rows straight into one shard of `config` (no stage), for hand-built datasets."""
    writer = dataset.shard_writer(config, "test")
    writer.write(table_from_rows(config, rows))
    writer.close()


def rle(mask: np.ndarray) -> dict:
    """Compressed RLE with str counts; unlike masks.encode_array, an empty mask is fine."""
    encoded_mask = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded_mask["size"]), "counts": encoded_mask["counts"].decode()}
