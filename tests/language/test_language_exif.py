"""EXIF orientation is applied once at ingest: a JPEG written with orientation 6 (the camera's
raw grid turned 90 degrees) is stored upright, its width/height are the upright size, and its
ground-truth mask lines up with the image `datasets.load_dataset` returns."""

from __future__ import annotations

import io
import json
import tempfile

import datasets
import numpy as np
from PIL import Image

from annotators.images import decode_image, probe_size, upright_bytes
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from schemas.masks import decode

UPRIGHT_H, UPRIGHT_W = 48, 80  # a landscape picture, shot with the camera held sideways
RED_BOX = (8, 6, 30, 22)  # x0, y0, x1, y1 in the upright picture


def upright_picture() -> np.ndarray:
    pixels = np.full((UPRIGHT_H, UPRIGHT_W, 3), 40, np.uint8)
    pixels[:, :, 2] = np.linspace(0, 200, UPRIGHT_W, dtype=np.uint8)  # a gradient, no symmetry
    x0, y0, x1, y1 = RED_BOX
    pixels[y0:y1, x0:x1] = (230, 20, 20)
    return pixels


def orientation_6_jpeg() -> bytes:
    """The camera's raw grid: the upright picture turned 90 degrees counter-clockwise; EXIF
    orientation 6 tells a viewer to turn it 90 degrees clockwise to show it upright."""
    raw = np.ascontiguousarray(np.rot90(upright_picture(), 1))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(raw).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def test_sizes_and_pixels_are_upright_and_the_stored_bytes_need_no_exif():
    data = orientation_6_jpeg()
    assert Image.open(io.BytesIO(data)).size == (UPRIGHT_H, UPRIGHT_W)  # raw grid: portrait
    assert probe_size(data)[:2] == (UPRIGHT_W, UPRIGHT_H)
    pixels = decode_image(data).pixels
    assert pixels.shape[:2] == (UPRIGHT_H, UPRIGHT_W)
    assert np.abs(pixels.astype(int) - upright_picture()).mean() < 6  # JPEG noise only
    stored = upright_bytes(data)
    plain = Image.open(io.BytesIO(stored))
    assert plain.getexif().get(0x0112) is None and plain.size == (UPRIGHT_W, UPRIGHT_H)
    assert np.array_equal(np.asarray(plain.convert("RGB")), pixels)  # lossless: same pixels
    assert upright_bytes(stored) is stored  # once: an upright image is kept as it is


def test_a_rotated_jpeg_ingested_from_coco_has_its_mask_on_the_object(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "sideways.jpg").write_bytes(orientation_6_jpeg())
    x0, y0, x1, y1 = RED_BOX
    annotation = {
        "images": [{"id": 1, "file_name": "sideways.jpg", "height": UPRIGHT_H, "width": UPRIGHT_W}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0)}],
        "categories": [{"id": 1, "name": "box"}],
    }
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(annotation))
    out = tmp_path / "data"
    stats = ingest("coco", source, images, out, progress=False)
    assert sum(stats.rejected.values()) == 0, stats.rejected  # no size_mismatch: sizes are upright
    dataset = DatasetDir(out)
    dataset.finalize()
    row = dataset.read("images").to_pylist()[0]
    assert (row["width"], row["height"]) == (UPRIGHT_W, UPRIGHT_H)
    loaded = datasets.load_dataset(str(out), "images", split="train", cache_dir=tempfile.mkdtemp())
    picture = np.asarray(loaded[0]["image"].convert("RGB"))
    assert picture.shape[:2] == (UPRIGHT_H, UPRIGHT_W)
    [segment] = dataset.read("segments").to_pylist()
    mask = decode(segment["mask"]).astype(bool)
    assert mask.shape == picture.shape[:2]
    inside = picture[mask].astype(int).mean(axis=0)
    assert inside[0] > 180 and inside[1] < 70 and inside[2] < 70, inside  # the mask is on red
