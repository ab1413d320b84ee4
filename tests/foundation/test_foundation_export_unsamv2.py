"""`segcap export --format unsamv2`, read back by an independent reader written from UnSAMv2's loader.

The reader below follows UnSAMv2's `UnSAMRawDataset` / `UnSAMSegmentLoader` as documented in
REFERENCE.md and pipelines/exports/unsamv2.py: `<img_folder>/<name>.jpg` + `<gt_folder>/<name>.json`,
the int id parsed from `name.split("_")[-1]`, masks decoded with pycocotools from `segmentation`,
granularity read per annotation. It shares no code with our exporter.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from foundation_fixtures import encoded, rle, write_rows
from PIL import Image
from pycocotools import mask as coco
from typer.testing import CliRunner

from annotators.images import image_row
from annotators.synthetic import generate_scene
from flows.cli import app
from pipelines.engine.runner import run_stage
from pipelines.exports.dataset import ExportError
from pipelines.exports.unsamv2 import export_unsamv2
from pipelines.stages.mine import MineStage
from pipelines.store.dataset_dir import DatasetDir

H, W = 40, 60


def unsamv2_reader(root: Path) -> dict[int, dict]:
    """video id -> {"image": (H, W, 3) array, "masks": [(mask, granularity, annotation)]}."""
    img_folder, gt_folder = root / "images", root / "annotations"
    names = [line.strip() for line in (root / "file_list.txt").read_text().splitlines()]
    assert sorted(names) == sorted(p.stem for p in gt_folder.glob("*.json"))
    videos = {}
    for name in names:
        data = json.loads((gt_folder / f"{name}.json").read_text())
        image = np.asarray(Image.open(img_folder / f"{name}.jpg").convert("RGB"))
        assert data["image"]["file_name"] == f"{name}.jpg"
        assert (data["image"]["height"], data["image"]["width"]) == image.shape[:2]
        masks = []
        for annotation in data["annotations"]:
            assert isinstance(annotation["segmentation"]["counts"], str)
            mask = coco.decode(annotation["segmentation"])
            assert mask.shape == image.shape[:2] and mask.sum() > 0
            granularity = annotation["granularity"]
            assert isinstance(granularity, float) and math.isfinite(granularity)
            masks.append((mask, granularity, annotation))
        videos[int(name.split("_")[-1])] = {"image": image, "masks": masks, "info": data["image"]}
    return videos


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.fixture
def mined(tmp_path: Path) -> DatasetDir:
    dataset = DatasetDir(tmp_path / "mined")
    rows = [image_row(encoded(generate_scene(seed, size=(64, 80)).pixels, fmt), f"s{seed}.{fmt.lower()}", "t")
            for seed, fmt in ((1, "PNG"), (2, "JPEG"), (3, "PNG"))]
    write_rows(dataset, "images", rows)
    run_stage(MineStage(points=4, max_pixels=12_000), dataset, progress=False)
    return dataset


def test_unsamv2_export_reads_back_with_iou_one(mined: DatasetDir, tmp_path: Path):
    out = tmp_path / "unsamv2"
    result = CliRunner().invoke(app, ["export", str(mined.path), "--format", "unsamv2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "export (unsamv2)" in result.output and "rejected" in result.output
    videos = unsamv2_reader(out)
    pairs = mined.read("granularity_pairs").to_pylist()
    images = {r["image_id"]: r for r in mined.read("images").to_pylist()}
    expected: dict[str, dict[str, dict]] = {}
    for pair in pairs:
        expected.setdefault(pair["image_id"], {})[pair["segment_id"]] = pair
    assert len(videos) == len(expected) == 3
    for video in videos.values():
        image_id = video["info"]["segcap_image_id"]
        source = np.asarray(Image.open(io.BytesIO(images[image_id]["image"]["bytes"])).convert("RGB"))
        if images[image_id]["file_name"].endswith(".jpeg"):  # JPEG bytes are copied as they are
            assert np.array_equal(video["image"], source)
        else:  # PNG re-encoded to JPEG q95: same grid, close pixels
            assert np.abs(video["image"].astype(int) - source).mean() < 3
        by_segment = {a["segment_id"]: (m, g, a) for m, g, a in video["masks"]}
        assert set(by_segment) == set(expected[image_id])
        instance_numbers: dict[str, int] = {}
        for segment_id, pair in expected[image_id].items():
            mask, granularity, annotation = by_segment[segment_id]
            assert iou(mask, coco.decode(pair["mask"])) == 1.0
            assert granularity == pytest.approx(pair["granularity"], abs=1e-6)
            assert annotation["is_part"] == pair["is_part"] and annotation["is_divide"] == (not pair["is_part"])
            assert instance_numbers.setdefault(pair["instance_id"], annotation["instance_id"]) == \
                annotation["instance_id"]
            if not pair["is_part"]:
                assert granularity == 1.0
        assert len(set(instance_numbers.values())) == len(instance_numbers)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows_in"] == len(pairs) and stats["outputs"]["images"] == 3
    assert stats["counters"]["images_reencoded_to_jpeg"] == 2


def _pair(image_id, instance, segment, mask, granularity, is_part, point, definition="unsamv2"):
    return {"pair_id": f"{segment}-{point}", "image_id": image_id, "instance_id": instance,
            "segment_id": segment, "point": list(point), "mask": rle(mask), "granularity": granularity,
            "granularity_def": definition, "level": int(is_part), "is_part": is_part,
            "area": int(mask.sum()), "mask_source": "gt"}


def test_unsamv2_export_counts_crowd_other_definitions_and_missing_images(tmp_path: Path):
    dataset = DatasetDir(tmp_path / "hand")
    pixels = generate_scene(4, size=(H, W)).pixels
    jpeg, png = image_row(encoded(pixels, "JPEG"), "a.jpg", "t"), image_row(encoded(pixels, "PNG"), "b.png", "t")
    write_rows(dataset, "images", [jpeg, png])
    whole, part, crowd = (np.zeros((H, W), bool) for _ in range(3))
    whole[5:30, 5:40] = True
    part[10:20, 10:20] = True
    crowd[32:40, 40:60] = True
    write_rows(dataset, "segments", [{"segment_id": "crowd", "image_id": jpeg["image_id"], "parent_id": None, "level": 0,
                                      "mask": rle(crowd), "bbox": [40, 32, 20, 8], "area": int(crowd.sum()),
                                      "category": "person", "mask_source": "gt", "is_crowd": True}])
    write_rows(dataset, "granularity_pairs", [
        _pair(jpeg["image_id"], "obj", "obj", whole, 1.0, False, (12, 12)),
        _pair(jpeg["image_id"], "obj", "part", part, 0.1, True, (12, 12)),
        _pair(jpeg["image_id"], "obj", "part", part, 0.1, True, (15, 15)),  # same mask, second click
        _pair(jpeg["image_id"], "crowd", "crowd", crowd, 1.0, False, (45, 35)),
        _pair(png["image_id"], "obj", "obj", whole, 1.0, False, (12, 12), "graco"),
        _pair("not-an-image", "x", "x", whole, 1.0, False, (12, 12)),
    ])
    report = export_unsamv2(dataset.path, tmp_path / "out")
    assert report.rows_in == 6
    assert report.counters["pairs_other_definition_skipped"] == 1
    assert report.counters["crowd_masks_skipped"] == 1
    assert report.rejected() == {"missing_image": 1}
    videos = unsamv2_reader(tmp_path / "out")
    assert len(videos) == 1
    (video,) = videos.values()
    annotations = [a for _, _, a in video["masks"]]
    assert [a["segment_id"] for a in annotations] == ["part", "obj"]  # parts first, instance last
    assert annotations[0]["points"] == [[12.0, 12.0], [15.0, 15.0]]
    assert iou(video["masks"][0][0], part) == 1.0 and iou(video["masks"][1][0], whole) == 1.0
    assert np.array_equal(video["image"], np.asarray(Image.open(io.BytesIO(jpeg["image"]["bytes"]))))
    assert "missing_image" in json.dumps(json.loads((tmp_path / "out" / "stats.json").read_text()))


def test_unsamv2_export_refuses_graco_only_pairs(tmp_path: Path):
    dataset = DatasetDir(tmp_path / "graco")
    pixels = generate_scene(5, size=(H, W)).pixels
    row = image_row(encoded(pixels, "PNG"), "c.png", "t")
    write_rows(dataset, "images", [row])
    whole = np.zeros((H, W), bool)
    whole[2:20, 2:20] = True
    write_rows(dataset, "granularity_pairs", [_pair(row["image_id"], "o", "o", whole, 1.0, False, (5, 5), "graco")])
    with pytest.raises(ExportError, match="--granularity unsamv2"):
        export_unsamv2(dataset.path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["export", str(dataset.path), "--format", "unsamv2",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
