"""`segcap ingest` flags of the public layouts: what was detected is printed, bad input is one line."""

from __future__ import annotations

import json

from conformance_fixtures import mot_sequence, noise, save, write_json
from typer.testing import CliRunner

from flows.cli import app
from pipelines.store.dataset_dir import DatasetDir

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    result.text = " ".join(result.output.split())  # rich wraps long lines
    return result


def test_mot_variant_is_printed_and_default_class_is_a_flag(tmp_path):
    mot_sequence(tmp_path / "seqs", "TUD-Stadtmitte", "1,1,10,4,8,20,1,4.4852,10.051,0\n", frames=1)
    result = invoke("ingest", "--format", "mot", "--source", tmp_path / "seqs", "--out",
                    tmp_path / "out", "--mot-default-class", "pedestrian")
    assert result.exit_code == 0, result.output
    assert "noted: mot_variant.MOT15: 1" in result.text
    assert DatasetDir(tmp_path / "out").read("segments").column("category").to_pylist() == [
        "pedestrian"]


def test_box_masks_flag(tmp_path):
    save(tmp_path / "images" / "a.jpg", noise(1))
    source = write_json(tmp_path / "boxes.json", {
        "images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "kite"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]})
    without = invoke("ingest", "--format", "coco", "--source", source, "--images",
                     tmp_path / "images", "--out", tmp_path / "o1")
    assert without.exit_code == 0 and "1 rejected" in without.text
    with_flag = invoke("ingest", "--format", "coco", "--source", source, "--images",
                       tmp_path / "images", "--out", tmp_path / "o2", "--box-masks")
    assert with_flag.exit_code == 0 and "noted: box_masks: 1" in with_flag.text


def test_nested_file_is_one_line_naming_it(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps({"images": []})[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}")
    result = invoke("ingest", "--format", "coco", "--source", deep, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "deep.json is nested 3001 levels deep" in result.text
