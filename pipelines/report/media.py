"""Pixels for the cards: a downscaled JPEG of each image and one small transparent PNG per mask.

Masks are pre-rendered here (pycocotools decode, Pillow resize) at the card's display size with
their colour baked into a 2-entry palette, so the browser only draws images on a canvas: no RLE
decoder in JavaScript, and data: URLs keep the canvas readable when opened from file://.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from annotators.images import ImageError, decode_image, encode_jpeg, image_bytes
from schemas.masks import MaskError, decode

PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000",
    "#ffd8b1", "#000075", "#ffe119", "#a9a9a9",
)
GRANULARITY_COLOUR = "#ffe119"
PLACEHOLDER_GREY = 96


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


@dataclass
class Thumbnail:
    url: str
    width: int  # display size
    height: int
    scale: float  # display px per source px
    note: str | None = None  # why the real image is not shown


def display_size(width: int, height: int, max_side: int) -> tuple[int, int, float]:
    scale = min(1.0, max_side / max(1, width, height))
    return max(1, round(width * scale)), max(1, round(height * scale)), scale


def _image_bytes(image: dict | None, dataset_root: Path) -> tuple[bytes | None, str | None]:
    """Embedded bytes, else the file the row points to under the project's one rule (inside
    the dataset directory or a recorded image root); (None, why) when it cannot be shown."""
    from pipelines.store.image_source import recorded_roots

    try:
        return image_bytes(image, dataset_root, recorded_roots(dataset_root)), None
    except (ImageError, ValueError, OSError) as exc:
        return None, f"image not shown ({getattr(exc, 'reason', type(exc).__name__)}): grey placeholder"


def thumbnail(image: dict | None, width: int, height: int, dataset_root: Path,
              max_side: int, max_pixels: int) -> Thumbnail:
    out_w, out_h, scale = display_size(width or 1, height or 1, max_side)
    data, note = _image_bytes(image, dataset_root)
    if data is None:
        pixels = None
    else:
        try:
            pixels = decode_image(data, max_pixels).pixels
        except ImageError as exc:
            pixels, note = None, f"image unreadable ({exc.reason}): grey placeholder"
    if pixels is None:
        pixels = np.full((out_h, out_w, 3), PLACEHOLDER_GREY, dtype=np.uint8)
    else:
        pixels = np.asarray(Image.fromarray(pixels).resize((out_w, out_h), Image.BILINEAR))
    return Thumbnail(data_url("image/jpeg", encode_jpeg(pixels, quality=85)), out_w, out_h, scale, note)


def mask_png(rle_json: str | None, size: tuple[int, int], hex_colour: str) -> str | None:
    """An RLE (JSON text) -> a data: URL of a transparent PNG, the mask in `hex_colour`.

    Returns None for a mask that cannot be decoded (the card notes it, the page still renders).
    """
    if not rle_json:
        return None
    try:
        mask = decode(json.loads(rle_json))
    except (MaskError, ValueError, KeyError, TypeError):
        return None
    # Area-averaged downscaling keeps thin parts visible where nearest-neighbour would drop them.
    grey = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.BOX)
    on = (np.asarray(grey) > 48).astype(np.uint8)
    image = Image.fromarray(on)  # mode L; putpalette turns it into P
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    image.putpalette([0, 0, 0, *rgb])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0, optimize=True)
    return data_url("image/png", buffer.getvalue())
