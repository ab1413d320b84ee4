"""One mask codec: every encoding this field uses in, COCO compressed RLE (str counts) out.

All run-length work goes through pycocotools; nothing here hand-writes RLE.
An RLE in this project is `{"size": [height, width], "counts": <ASCII str>}`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from schemas.errors import SegcapError
from schemas.rejects import Reason

RLE = dict[str, Any]


class MaskError(SegcapError):
    """A mask that cannot be used; `reason` goes to rejects and stats."""


@dataclass
class Encoded:
    rle: RLE
    clipped: bool = False  # a polygon reached outside the image and was clipped to it


def _as_str_counts(rle: dict) -> RLE:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def _check_size(size, height: int | None, width: int | None) -> None:
    if height is None or width is None:
        return
    if (int(size[0]), int(size[1])) != (int(height), int(width)):
        raise MaskError(
            Reason.SIZE_MISMATCH,
            f"mask is {int(size[0])}x{int(size[1])} (h x w) but the image is {height}x{width}",
        )


def _require_nonempty(rle: RLE, allow_empty: bool) -> RLE:
    if not allow_empty and int(coco_mask.area(rle)) == 0:
        raise MaskError(Reason.EMPTY_MASK, "the mask has no foreground pixels")
    return rle


def encode_array(array: np.ndarray, *, allow_empty: bool = False) -> RLE:
    """A binary mask of any dtype and memory order -> compressed RLE with str counts."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise MaskError(Reason.BAD_SHAPE, f"a mask must be 2-D, got shape {array.shape}")
    fortran = np.asfortranarray(array.astype(bool, copy=False).astype(np.uint8))
    return _require_nonempty(_as_str_counts(coco_mask.encode(fortran)), allow_empty)


def encode_stack(masks: np.ndarray) -> list[RLE]:
    """(N, H, W) binary masks -> N RLEs in one pycocotools call (empties allowed)."""
    if masks.ndim != 3:
        raise MaskError(Reason.BAD_SHAPE, f"a mask stack must be 3-D, got shape {masks.shape}")
    fortran = np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8))
    return [_as_str_counts(r) for r in coco_mask.encode(fortran)]


def decode(rle: RLE) -> np.ndarray:
    """RLE -> (H, W) uint8 array of 0/1."""
    try:
        return coco_mask.decode({"size": list(rle["size"]), "counts": rle["counts"]})
    except (TypeError, ValueError, KeyError) as exc:
        raise MaskError(Reason.UNDECODABLE, f"cannot decode RLE: {exc}") from exc


def decode_many(rles: list[RLE]) -> np.ndarray:
    """N RLEs of one size -> (N, H, W) uint8."""
    if not rles:
        return np.zeros((0, 0, 0), dtype=np.uint8)
    stacked = coco_mask.decode([{"size": list(r["size"]), "counts": r["counts"]} for r in rles])
    return np.ascontiguousarray(stacked.transpose(2, 0, 1))


def from_polygons(
    polygons: list[list[float]], height: int, width: int, *, allow_empty: bool = False
) -> Encoded:
    """COCO polygons -> RLE. Points outside the image are clipped, and the result says so."""
    if not polygons or any(len(p) < 6 or len(p) % 2 for p in polygons):
        raise MaskError(Reason.BAD_POLYGON, "each polygon needs an even number (>= 6) of coordinates")
    clipped = False
    fixed = []
    for polygon in polygons:
        try:
            points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError) as exc:  # a coordinate that is not a number
            raise MaskError(Reason.BAD_POLYGON, f"polygon coordinates must be numbers: {exc}") from None
        if not np.all(np.isfinite(points)):
            raise MaskError(Reason.BAD_POLYGON, "polygon has non-finite coordinates")
        inside = np.clip(points, [0, 0], [width, height])
        clipped |= bool(np.any(inside != points))
        fixed.append(inside.ravel().tolist())
    merged = coco_mask.merge(coco_mask.frPyObjects(fixed, height, width))
    return Encoded(_require_nonempty(_as_str_counts(merged), allow_empty), clipped)


def from_rle(rle: dict, height: int | None = None, width: int | None = None,
             *, allow_empty: bool = False) -> RLE:
    """Uncompressed (list counts) or compressed (bytes/str counts) RLE -> canonical RLE."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise MaskError(Reason.UNDECODABLE, "an RLE needs 'size' and 'counts'")
    size, counts = rle["size"], rle["counts"]
    try:  # input data: a size or count that is not a number is a bad mask, not a bug
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise ValueError(f"size {size!r} is not [height, width]")
        size = [int(size[0]), int(size[1])]
        total = sum(int(c) for c in counts) if isinstance(counts, list) else None
    except (TypeError, ValueError) as exc:
        raise MaskError(Reason.UNDECODABLE, f"not an RLE: {exc}") from None
    _check_size(size, height, width)
    if isinstance(counts, list):
        if total != int(size[0]) * int(size[1]):
            raise MaskError(Reason.UNDECODABLE, "uncompressed RLE counts do not sum to height*width")
        canonical = _as_str_counts(coco_mask.frPyObjects(rle, int(size[0]), int(size[1])))
    elif isinstance(counts, (str, bytes)):
        canonical = _as_str_counts(rle)
        try:
            coco_mask.area(canonical)
            coco_mask.decode(canonical)
        except Exception as exc:  # pycocotools raises bare exceptions on corrupt strings
            raise MaskError(Reason.UNDECODABLE, f"corrupt RLE counts: {exc}") from exc
    else:
        raise MaskError(Reason.UNDECODABLE, f"RLE counts of type {type(counts).__name__}")
    return _require_nonempty(canonical, allow_empty)


def from_mglmm(text: str, height: int | None = None, width: int | None = None,
               *, allow_empty: bool = False) -> RLE:
    """MGLMM: a JSON string of an RLE whose counts are base64-encoded."""
    try:
        obj = json.loads(text)
        counts = base64.b64decode(obj["counts"], validate=True)
        size = obj["size"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise MaskError(Reason.UNDECODABLE, f"not an MGLMM mask string: {exc}") from exc
    return from_rle({"size": size, "counts": counts}, height, width, allow_empty=allow_empty)


def union(rles: list[RLE]) -> RLE:
    """GranD-f: several RLEs of one phrase become one mask."""
    if not rles:
        raise MaskError(Reason.EMPTY_MASK, "no masks to union")
    sizes = {tuple(r["size"]) for r in rles}
    if len(sizes) != 1:
        raise MaskError(Reason.SIZE_MISMATCH, f"masks of different sizes cannot be unioned: {sizes}")
    canonical = [_as_str_counts(r) for r in rles]
    return _as_str_counts(coco_mask.merge(canonical, intersect=False))


def from_label_map(label_map: np.ndarray | bytes, *, ignore: tuple[int, ...] = (0,)) -> dict[int, RLE]:
    """A label map (array, or PNG bytes) -> one RLE per label value, background ignored."""
    if isinstance(label_map, (bytes, bytearray)):
        label_map = _decode_png(bytes(label_map))
    labels = np.asarray(label_map)
    if labels.ndim == 3:  # an RGB-encoded id map (COCO panoptic): id = R + 256 G + 256^2 B
        rgb = labels[..., :3].astype(np.int64)  # widen first: 256 * a uint8 channel overflows
        labels = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    values = [int(v) for v in np.unique(labels) if int(v) not in ignore]
    if not values:
        return {}
    stack = np.stack([labels == v for v in values])
    return dict(zip(values, encode_stack(stack), strict=True))


def from_base64_png(text: str, *, allow_empty: bool = False) -> RLE:
    """A base64 PNG (DCI style) whose non-zero pixels are the mask."""
    try:
        raw = base64.b64decode(text.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MaskError(Reason.UNDECODABLE, f"not base64: {exc}") from exc
    array = _decode_png(raw)
    if array.ndim == 3:
        array = array.max(axis=2)
    return encode_array(array > 0, allow_empty=allow_empty)


def _decode_png(raw: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            # Palette ("P") images stay as indices: in label maps the index is the label.
            return np.asarray(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise MaskError(Reason.UNDECODABLE, f"not a readable PNG: {exc}") from exc


def to_rle(obj: Any, height: int | None = None, width: int | None = None,
           *, allow_empty: bool = False) -> Encoded:
    """Any supported encoding -> canonical RLE (and whether a polygon was clipped)."""
    if isinstance(obj, np.ndarray):
        if height is not None and obj.shape != (height, width):
            raise MaskError(Reason.SIZE_MISMATCH, f"mask is {obj.shape} but the image is {(height, width)}")
        return Encoded(encode_array(obj, allow_empty=allow_empty))
    if isinstance(obj, dict):
        return Encoded(from_rle(obj, height, width, allow_empty=allow_empty))
    if isinstance(obj, str):
        stripped = obj.lstrip()
        if stripped.startswith("{"):
            return Encoded(from_mglmm(obj, height, width, allow_empty=allow_empty))
        encoded = from_base64_png(obj, allow_empty=allow_empty)
        _check_size(encoded["size"], height, width)
        return Encoded(encoded)
    if isinstance(obj, list) and obj and all(isinstance(p, (list, tuple)) for p in obj):
        if height is None or width is None:
            raise MaskError(Reason.BAD_POLYGON, "polygons need the image height and width")
        return from_polygons([list(p) for p in obj], height, width, allow_empty=allow_empty)
    if isinstance(obj, list) and obj and all(isinstance(p, dict) for p in obj):
        merged = union([from_rle(p, height, width, allow_empty=True) for p in obj])
        return Encoded(_require_nonempty(merged, allow_empty))
    raise MaskError(Reason.UNDECODABLE, f"unsupported mask encoding: {type(obj).__name__}")


def area(rle: RLE) -> int:
    return int(coco_mask.area(rle))


def bbox(rle: RLE) -> list[float]:
    return [float(v) for v in coco_mask.toBbox(rle)]


def iou(a: list[RLE], b: list[RLE]) -> np.ndarray:
    """Pairwise IoU matrix (len(a), len(b))."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    return np.asarray(coco_mask.iou(list(a), list(b), [0] * len(b)), dtype=np.float64)


def describe(rle: RLE) -> dict:
    """The derived fields every segment row carries."""
    return {"mask": rle, "bbox": bbox(rle), "area": area(rle)}
