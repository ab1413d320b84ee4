"""validate: passes a good directory and catches each kind of violation; CLI errors name the input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from foundation_fixtures import blob, mglmm_string, write_json
from typer.testing import CliRunner

from flows.cli import app
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.validate import validate_dataset
from schemas import masks
from schemas.contract import table_from_rows

H, W = 48, 64


@pytest.fixture
def good(image_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "good"
    write_json(tmp_path / "coco.json", {
        "images": [{"id": 1, "file_name": "astronaut.png"}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "arm", "parent": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[2, 2, 40, 2, 40, 40, 2, 40]]},
                        {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[4, 4, 9, 4, 9, 9, 4, 9]]}]})
    ingest("coco", tmp_path / "coco.json", image_dir, out, progress=False)
    write_json(tmp_path / "mgsc.json", [{
        "file_name": "astronaut.png", "label": "root", "gcg_caption": "A <a>person</a>.",
        "gcg_labels": ["a"], "a": {"mask": mglmm_string(blob(H, W, (2, 2, 30, 40))), "label": "person"}}])
    ingest("mgsc", tmp_path / "mgsc.json", image_dir, out, progress=False)
    return out


def rewrite(directory: Path, config: str, change) -> None:
    """Apply `change(rows)` to a config's rows and write them back (the contract schema kept).

    A hand edit outside the engine: the run's commit records go too (with them, validate would
    rightly report the engine's shards missing; that check has its own tests)."""
    shutil.rmtree(directory / ".segcap-run", ignore_errors=True)
    dataset = DatasetDir(directory)
    rows = dataset.read(config).to_pylist()
    change(rows)
    for path in dataset.shard_paths(config):
        path.unlink()
    pq.write_table(table_from_rows(config, rows), dataset.config_dir(config) / "edited-00000.parquet")


def pairs_rows(directory: Path, granularity: float) -> None:
    segment = DatasetDir(directory).read("segments").to_pylist()[0]
    row = {"pair_id": "p1", "image_id": segment["image_id"], "instance_id": segment["segment_id"],
           "segment_id": segment["segment_id"], "point": [3.0, 3.0], "mask": segment["mask"],
           "granularity": granularity, "granularity_def": "unsamv2", "level": 0, "is_part": False,
           "area": segment["area"], "mask_source": "gt"}
    target = DatasetDir(directory).config_dir("granularity_pairs")
    target.mkdir(exist_ok=True)
    pq.write_table(table_from_rows("granularity_pairs", [row]), target / "pairs-00000.parquet")


def test_good_directory_passes(good: Path):
    pairs_rows(good, 0.5)
    DatasetDir(good).finalize()
    report = validate_dataset(good)
    assert report.ok, report.violations
    assert report.counts["segments"] == 3 and report.counts["segcap"] == 1


def small_mask(rows):
    rows[0]["masks"] = [masks.encode_array(blob(10, 10, (1, 1, 5, 5)))]


def extra_seg(rows):
    rows[0]["conversations"][1]["value"] += " <p> more </p> [SEG]"


def shifted_span(rows):
    rows[0]["phrase_spans"] = [[0, 3]]


def duplicate(rows):
    rows.append(dict(rows[0]))


def dangling_parent(rows):
    rows[0]["parent_id"] = "does-not-exist"


def bad_task(rows):
    rows[0]["task"] = "dreaming"


CASES = {
    "mask_size": ("segcap", small_mask),
    "grounding": ("segcap", extra_seg),
    "ids": ("segments", duplicate),
    "references": ("segments", dangling_parent),
    "values": ("segcap", bad_task),
}


@pytest.mark.parametrize("check", CASES)
def test_each_violation_is_caught(good: Path, check: str):
    config, change = CASES[check]
    rewrite(good, config, change)
    DatasetDir(good).finalize()
    report = validate_dataset(good)
    assert report.checks_failed() == {check}, report.violations


def test_span_and_label_mismatch(good: Path):
    rewrite(good, "segcap", shifted_span)
    report = validate_dataset(good)
    assert any("reads" in v.message for v in report.violations if v.check == "grounding")
    rewrite(good, "segcap", lambda rows: rows[0]["mask_labels"].append("extra"))
    assert any("mask labels" in v.message for v in validate_dataset(good).violations)


def test_granularity_range(good: Path):
    pairs_rows(good, 0.05)
    DatasetDir(good).finalize()
    assert validate_dataset(good).checks_failed() == {"granularity"}


def test_wrong_column_type_and_missing_column(good: Path):
    path = DatasetDir(good).shard_paths("images")[0]
    table = pq.read_table(path)
    table = table.set_column(table.column_names.index("width"), "width",
                             table.column("width").cast(pa.string()))
    pq.write_table(table.drop_columns(["sha256"]), path)
    messages = [v.message for v in validate_dataset(good).violations if v.check == "schema"]
    assert any("`width` is string" in m for m in messages)
    assert any("missing column `sha256`" in m for m in messages)


def test_incomplete_directory(good: Path):
    (good / "README.md").unlink()
    report = validate_dataset(good)
    assert report.checks_failed() == {"completeness"}
    assert "README.md is missing" in report.violations[0].message


def test_cli_validate_exit_codes(good: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    rewrite(broken, "segcap", extra_seg)
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1 and "grounding" in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "missing-dir")])
    assert result.exit_code == 2 and "missing-dir" in result.output


def test_cli_errors_name_the_bad_input(tmp_path: Path, image_dir: Path):
    runner = CliRunner()
    bad = tmp_path / "bad.json"
    bad.write_text("[oops")
    result = runner.invoke(app, ["ingest", "--format", "coco", "--source", str(bad),
                                 "--images", str(image_dir), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "bad.json" in result.output
    result = runner.invoke(app, ["ingest", "--format", "cocoa", "--source", str(bad),
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "cocoa" in result.output
    result = runner.invoke(app, ["ingest", "--format", "images", "--source", str(image_dir),
                                 "--out", str(tmp_path / "ok")])
    assert result.exit_code == 0 and "3 out, 1 rejected" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "nowhere" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "ok"), "--out", str(tmp_path / "x"),
                                 "--format", "tar"])
    assert result.exit_code == 2 and "tar" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "ok"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0 and validate_dataset(tmp_path / "x").ok


def test_a_segment_level_that_is_not_its_depth_fails_validation(tmp_path):
    """A level-1 row without a parent (or a level that skips one) would be trained as a part."""
    from pipelines.ingest.demo_data import write_scenes

    write_scenes(tmp_path / "src", 1, seed=3, size=(64, 64))
    out = tmp_path / "ds"
    ingest("coco", tmp_path / "src" / "instances.json", tmp_path / "src" / "images", out,
           progress=False)
    assert validate_dataset(out).ok
    dataset = DatasetDir(out)
    segments = dataset.read("segments")
    rows = segments.to_pylist()
    root = next(r for r in rows if r["parent_id"] is None)
    child = next(r for r in rows if r["parent_id"] == root["segment_id"])
    root["level"], child["level"] = 1, 3
    shard = next(p for p in sorted((out / "segments").glob("*.parquet")))
    pq.write_table(table_from_rows("segments", rows), shard)
    report = validate_dataset(out)
    messages = [m for (check, _), ms in report.by_check().items() if check == "levels" for m in ms]
    assert any(f"{root['segment_id']}: a root at level 1" in m for m in messages)
    assert any(f"{child['segment_id']}: level 3 under a level-1 parent" in m for m in messages)
