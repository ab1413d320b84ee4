"""The mask codec: every encoding round-trips against pycocotools, errors are clear."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco

from schemas import masks

H, W = 24, 32


def holey() -> np.ndarray:
    m = np.zeros((H, W), dtype=np.uint8)
    m[4:20, 6:26] = 1
    m[9:14, 12:18] = 0  # a hole
    return m


def border() -> np.ndarray:
    m = np.zeros((H, W), dtype=np.uint8)
    m[0:10, 0:5] = 1  # top-left corner
    m[H - 3:H, :] = 1  # bottom edge
    m[:, W - 1] = 1  # right edge
    return m


SHAPES = {"holes": holey, "border": border}


def reference_rle(m: np.ndarray) -> dict:
    return coco.encode(np.asfortranarray(m.astype(np.uint8)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.uint8, bool, np.int32, np.float32, np.int64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_array_round_trips(shape, dtype, order):
    m = SHAPES[shape]()
    array = np.array(m.astype(dtype), order=order)
    rle = masks.encode_array(array)
    assert isinstance(rle["counts"], str) and rle["size"] == [H, W]
    assert np.array_equal(coco.decode(rle), m)
    assert np.array_equal(masks.decode(rle), m)


@pytest.mark.parametrize("shape", SHAPES)
def test_stack_and_decode_many(shape):
    stack = np.stack([SHAPES[shape](), 1 - SHAPES[shape]()])
    rles = masks.encode_stack(stack)
    assert np.array_equal(masks.decode_many(rles), stack)
    assert [np.array_equal(coco.decode(r), s) for r, s in zip(rles, stack, strict=True)] == [True, True]


@pytest.mark.parametrize("shape", SHAPES)
def test_compressed_rle_bytes_and_str(shape):
    m = SHAPES[shape]()
    raw = reference_rle(m)
    for counts in (raw["counts"], raw["counts"].decode("ascii")):
        rle = masks.from_rle({"size": raw["size"], "counts": counts}, H, W)
        assert isinstance(rle["counts"], str)
        assert np.array_equal(coco.decode(rle), m)


@pytest.mark.parametrize("shape", SHAPES)
def test_uncompressed_rle(shape):
    m = SHAPES[shape]()
    flat = m.flatten(order="F")  # column-major runs starting with zeros
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    rle = masks.from_rle({"size": [H, W], "counts": counts}, H, W)
    assert np.array_equal(coco.decode(rle), m)


def test_polygon_and_clipping_record():
    inside = masks.from_polygons([[2, 2, 20, 2, 20, 15, 2, 15]], H, W)
    assert not inside.clipped
    assert np.array_equal(coco.decode(inside.rle), coco.decode(coco.merge(
        coco.frPyObjects([[2, 2, 20, 2, 20, 15, 2, 15]], H, W))))
    outside = masks.from_polygons([[-5, -5, 50, -5, 50, 10, -5, 10]], H, W)
    assert outside.clipped
    decoded = coco.decode(outside.rle)
    assert decoded.shape == (H, W) and decoded[0:9, :].all() and not decoded[12:, :].any()


@pytest.mark.parametrize("shape", SHAPES)
def test_mglmm_base64_json(shape):
    m = SHAPES[shape]()
    raw = reference_rle(m)
    text = json.dumps({"size": raw["size"], "counts": base64.b64encode(raw["counts"]).decode()})
    rle = masks.from_mglmm(text, H, W)
    assert np.array_equal(coco.decode(rle), m)
    assert np.array_equal(coco.decode(masks.to_rle(text, H, W).rle), m)


def test_grandf_union():
    a, b = holey(), border()
    merged = masks.union([masks.encode_array(a), masks.encode_array(b)])
    assert np.array_equal(coco.decode(merged), np.maximum(a, b))
    listed = masks.to_rle([masks.encode_array(a), reference_rle(b)], H, W).rle
    assert np.array_equal(coco.decode(listed), np.maximum(a, b))


@pytest.mark.parametrize("mode", ["L", "P", "RGB"])
def test_png_label_map(mode):
    labels = np.zeros((H, W), dtype=np.uint8)
    labels[holey() == 1] = 3
    labels[border() == 1] = 7
    image = Image.fromarray(labels, mode="L")
    if mode == "P":
        image = image.convert("P")
        labels = np.asarray(image)
    elif mode == "RGB":
        rgb = np.zeros((H, W, 3), dtype=np.uint8)
        rgb[..., 0], rgb[..., 1] = labels, labels  # id = R + 256 G
        image = Image.fromarray(rgb)
        labels = labels.astype(np.int64) * 257
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    by_label = masks.from_label_map(buffer.getvalue())
    assert sorted(by_label) == sorted(int(v) for v in np.unique(labels) if v)
    for value, rle in by_label.items():
        assert np.array_equal(coco.decode(rle), (labels == value).astype(np.uint8))


@pytest.mark.parametrize("shape", SHAPES)
def test_base64_png(shape):
    m = SHAPES[shape]()
    buffer = io.BytesIO()
    Image.fromarray(m * 255).save(buffer, format="PNG")
    text = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert np.array_equal(coco.decode(masks.from_base64_png(text)), m)
    assert np.array_equal(coco.decode(masks.to_rle(text, H, W).rle), m)


def test_area_bbox_iou_match_pycocotools():
    a, b = masks.encode_array(holey()), masks.encode_array(border())
    assert masks.area(a) == int(holey().sum())
    assert masks.bbox(a) == [6.0, 4.0, 20.0, 16.0]
    expected = coco.iou([a], [b], [0])[0][0]
    assert masks.iou([a], [b])[0, 0] == pytest.approx(expected)
    assert masks.iou([a], [a])[0, 0] == pytest.approx(1.0)


def test_size_mismatch_is_named():
    rle = masks.encode_array(holey())
    with pytest.raises(masks.MaskError) as info:
        masks.from_rle(rle, H + 1, W)
    assert info.value.reason == "size_mismatch" and f"{H + 1}x{W}" in str(info.value)
    with pytest.raises(masks.MaskError, match="size_mismatch"):
        masks.to_rle(holey(), H, W + 2)


def test_empty_mask_is_refused_unless_allowed():
    with pytest.raises(masks.MaskError) as info:
        masks.encode_array(np.zeros((H, W)))
    assert info.value.reason == "empty_mask"
    assert masks.area(masks.encode_array(np.zeros((H, W)), allow_empty=True)) == 0


@pytest.mark.parametrize("bad", ["{not json", '{"size": [4, 4], "counts": "@@@"}', "%%%not-base64"])
def test_undecodable_strings(bad):
    with pytest.raises(masks.MaskError) as info:
        masks.to_rle(bad, 4, 4)
    assert info.value.reason == "undecodable"


@pytest.mark.parametrize("counts", ["@@@", b"@@@"])
def test_corrupt_compressed_counts(counts):
    with pytest.raises(masks.MaskError) as info:
        masks.from_rle({"size": [H, W], "counts": counts})
    assert info.value.reason == "undecodable"
