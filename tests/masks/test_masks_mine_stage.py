"""`segcap mine` and the mine stage on a small dataset directory, bad inputs included."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from typer.testing import CliRunner

from annotators.images import image_row
from annotators.masks.evaluation import granularity_order_violations
from annotators.synthetic import generate_scene
from flows.cli import app
from pipelines.engine.runner import run_stage
from pipelines.stages.mine import MineStage
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import table_from_rows


def _encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _write(dataset: DatasetDir, config: str, rows: list[dict]) -> None:
    writer = dataset.shard_writer(config, "test")
    writer.write(table_from_rows(config, rows))
    writer.close()


def bad_inputs() -> dict[str, bytes]:
    rgb = generate_scene(7, size=(64, 80)).pixels
    grey = Image.fromarray(rgb).convert("L")
    sixteen = Image.fromarray(np.asarray(grey).astype(np.uint16) * 200).convert("I;16")
    whole = _encoded(Image.fromarray(rgb))
    return {
        "grey.png": _encoded(grey),
        "palette.png": _encoded(Image.fromarray(rgb).convert("P")),
        "rgba.png": _encoded(Image.fromarray(rgb).convert("RGBA")),
        "sixteen.png": _encoded(sixteen),
        "cmyk.jpg": _encoded(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "one_pixel.png": _encoded(Image.new("RGB", (1, 1), (5, 5, 5))),
        "one_colour.png": _encoded(Image.new("RGB", (50, 40), (200, 10, 10))),
        "truncated.png": whole[: len(whole) // 2],
        "large.png": _encoded(Image.fromarray(generate_scene(8, size=(120, 160)).pixels)),
    }


@pytest.fixture()
def dataset(tmp_path):
    directory = DatasetDir(tmp_path / "ds")
    _write(directory, "images", [image_row(data, name, "test") for name, data in bad_inputs().items()])
    return directory


def test_bad_inputs_are_mined_or_rejected_with_reasons(dataset):
    stats = run_stage(MineStage(batch_size=4, points=2, max_pixels=12_000), dataset, progress=False)
    assert stats.rows_in == 9
    rejects = {r["input_ref"].split("(")[1].rstrip(")"): r["reason"]
               for r in dataset.read("rejects").to_pylist()}
    assert rejects == {"one_pixel.png": "image_too_small", "one_colour.png": "uniform_image",
                       "truncated.png": "truncated_image"}
    pairs = dataset.read("granularity_pairs").to_pylist()
    segments = dataset.read("segments").to_pylist()
    sizes = {r["image_id"]: (r["height"], r["width"]) for r in dataset.read("images").to_pylist()}
    assert len({p["image_id"] for p in pairs}) == 6  # 5 modes + the downscaled large image
    segment_ids = {s["segment_id"] for s in segments}
    for pair in pairs:
        assert pair["segment_id"] in segment_ids and pair["instance_id"] in segment_ids
        mask = coco_mask.decode(pair["mask"])
        assert mask.shape == sizes[pair["image_id"]]  # the large image's masks are full size
        assert mask[int(pair["point"][1]), int(pair["point"][0])] == 1
        assert 0.1 <= pair["granularity"] <= 1.0 and pair["granularity_def"] == "unsamv2"
    assert granularity_order_violations(pairs) == 0
    recorded = dataset.stats()["stages"]["mine"]
    assert recorded["counters"]["downscaled_images"] == 1
    assert recorded["rejected"] == {"image_too_small": 1, "uniform_image": 1, "truncated_image": 1}


def test_over_budget_can_be_rejected(dataset):
    run_stage(MineStage(points=1, max_pixels=12_000, over_budget="reject"), dataset, progress=False)
    reasons = [r["reason"] for r in dataset.read("rejects").to_pylist()]
    assert reasons.count("over_pixel_budget") == 1


def test_mining_is_deterministic_under_a_seed(dataset):
    def mined(seed):
        run_stage(MineStage(points=3, seed=seed, max_pixels=12_000), dataset, progress=False)
        return sorted((p["pair_id"], tuple(p["point"])) for p in dataset.read("granularity_pairs").to_pylist())
    first = mined(11)
    assert mined(11) == first  # a re-run replaces its rows and gives the same pairs
    assert mined(12) != first


def test_gt_source_uses_ingested_segments(tmp_path):
    dataset = DatasetDir(tmp_path / "gt")
    scene = generate_scene(3, size=(96, 128))
    row = image_row(_encoded(Image.fromarray(scene.pixels)), "scene.png", "synthetic")
    _write(dataset, "images", [row])
    rows = scene.segment_rows(row["image_id"])
    _write(dataset, "segments", rows)
    stats = run_stage(MineStage(source="gt", granularity="graco", points=4, min_area=1, iou_merge=1.0),
                      dataset, progress=False)
    assert stats.rows_out > 0
    pairs = dataset.read("granularity_pairs").to_pylist()
    by_id = {r["segment_id"]: r for r in rows}
    assert {p["instance_id"] for p in pairs} <= {r["segment_id"] for r in rows if r["parent_id"] is None}
    for pair in pairs:
        # a graco residual (instance minus the segment) is a part of the instance: level 1
        assert pair["level"] == (1 if pair["is_residual"] else by_id[pair["segment_id"]]["level"])
        assert pair["mask_source"] == "gt"
    residuals = sum(p["is_residual"] for p in pairs)
    assert residuals > 0
    assert dataset.stats()["stages"]["mine"]["counters"]["graco_residuals"] * 4 == residuals
    assert dataset.count("segments") == len(rows)  # gt mining adds no segments


def test_cli_mine_and_clear_errors(dataset, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["mine", str(dataset.path), "--points", "2", "--granularity", "graco",
                                 "--max-pixels", "12000"])
    assert result.exit_code == 0, result.output
    assert "mine: 9 in" in result.output and "3 rejected" in result.output
    stats = json.loads((dataset.path / "stats.json").read_text())
    assert stats["stages"]["mine"]["outputs"]["granularity_pairs"] > 0
    assert dataset.is_complete()
    assert {p["granularity_def"] for p in dataset.read("granularity_pairs").to_pylist()} == {"graco"}

    def error(*args):
        failed = runner.invoke(app, ["mine", *args])
        assert failed.exit_code == 2
        return " ".join(failed.output.split())  # rich wraps long messages

    assert "does not exist" in error(str(tmp_path / "nowhere"))
    assert "--model" in error(str(dataset.path), "--source", "sam")
    assert "granularity" in error(str(dataset.path), "--granularity", "sam2")
    assert "no gt rows in `segments`" in error(str(dataset.path), "--source", "gt")
