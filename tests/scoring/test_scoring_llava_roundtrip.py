"""LLaVA in, selection, LLaVA out, LLaVA in again: the user's ids, images and turns survive.

A real-looking pool: nested image folders, a missing image, duplicate ids (same id on two
images), an int id, a record without id, multi-turn and user/assistant records, text-only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from pipelines.engine.runner import run_stage
from pipelines.stages.ingest import ingest
from pipelines.stages.select import SelectStage
from pipelines.store.dataset_dir import DatasetDir

runner = CliRunner()


def small(image, side=64):
    return np.asarray(Image.fromarray(image[..., :3]).resize((side, side)))


def turns(*values, roles=("human", "gpt")):
    return [{"from": roles[i % 2], "value": v} for i, v in enumerate(values)]


@pytest.fixture
def pool(tmp_path):
    from skimage import data as skdata

    root = tmp_path / "images"
    for name, picture in (("coco/train2017/000000033471.jpg", skdata.astronaut()),
                          ("coco/b.png", skdata.chelsea()), ("ocr_vqa/c.png", skdata.coffee())):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(small(picture)).save(root / name)
    records = [
        {"id": "000001", "image": "coco/train2017/000000033471.jpg",
         "conversations": turns("<image>\nWhat is the man holding?", "A helmet.")},
        {"id": "000002", "image": "coco/b.png",
         "conversations": turns("<image>\nDescribe the picture.", "A cat.", "Is it sleeping?", "No.",
                                "What colour is it?", "Orange.")},
        {"id": "000002", "image": "ocr_vqa/c.png",  # the same id again, another image
         "conversations": turns("<image>\nWhat is in the cup?", "Coffee.")},
        {"id": 17, "image": "coco/b.png",
         "conversations": turns("<image>\nHi", "Hello", roles=("user", "assistant"))},
        {"image": "ocr_vqa/c.png", "conversations": turns("<image>\nRead the label.", "None.")},
        {"id": "lost", "image": "coco/missing.jpg", "conversations": turns("<image>\nWhat?", "A dog.")},
        {"id": "t1", "conversations": turns("What is 2+2?", "4")},
    ]
    source = tmp_path / "llava_v1_5_mix.json"
    source.write_text(json.dumps(records))
    return source, root


def samples(dataset: DatasetDir) -> set:
    rows = dataset.read("instructions", ["source_id", "image_id", "conversations"]).to_pylist()
    return {(r["source_id"], r["image_id"], json.dumps(r["conversations"])) for r in rows}


def test_ingest_keeps_source_ids(pool, tmp_path):
    source, root = pool
    ingest("llava", source, root, tmp_path / "ds", progress=False)
    ids = sorted(r["source_id"] for r in DatasetDir(tmp_path / "ds").read("instructions").to_pylist())
    # a repeated id keeps its first record; the later one is a reject (issue 10: duplicate ids)
    assert ids == ["000001", "000002", "17", "llava_v1_5_mix.json[4]", "t1"]
    rejects = DatasetDir(tmp_path / "ds").read("rejects").to_pylist()
    assert [r["reason"] for r in rejects if "000002" in r["input_ref"] + r["raw"]] == ["duplicate_id"]


def test_export_selected_then_all_and_read_back(pool, tmp_path):
    source, root = pool
    ingest("llava", source, root, tmp_path / "ds", progress=False)
    dataset = DatasetDir(tmp_path / "ds")
    run_stage(SelectStage(method="random", budget=3, seed=0), dataset, progress=False)
    chosen = {r["sample_id"] for r in dataset.read("instructions").to_pylist() if r["selected"]}

    result = runner.invoke(app, ["export", str(dataset.path), "--format", "llava", "--out", str(tmp_path / "sel")])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "sel" / "data.json").read_text())
    sidecar = json.loads((tmp_path / "sel" / "selection.json").read_text())
    assert len(records) == 3 and {s["sample_id"] for s in sidecar["samples"]} == chosen
    assert [s["id"] for s in sidecar["samples"]] == [r["id"] for r in records]
    assert sidecar["how"]["select"]["counters"]["selected"] == 3
    assert all(s["selection_method"] == "random" for s in sidecar["samples"])

    result = runner.invoke(app, ["export", str(dataset.path), "--format", "llava", "--all",
                                 "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "all" / "data.json").read_text())
    by_id = {}
    for record in records:
        by_id.setdefault(record["id"], []).append(record)
    assert sorted(by_id) == ["000001", "000002", "17", "llava_v1_5_mix.json[4]", "t1"]
    assert len(by_id["000002"]) == 1  # the repeated id was rejected at ingest
    first = by_id["000001"][0]
    assert first["image"] == "coco/train2017/000000033471.jpg"
    assert (tmp_path / "all" / "images" / first["image"]).read_bytes() == \
        (root / "coco/train2017/000000033471.jpg").read_bytes()
    multi = [r for r in by_id["000002"] if r["image"] == "coco/b.png"][0]
    assert [t["value"] for t in multi["conversations"]][-1] == "Orange." and len(multi["conversations"]) == 6
    assert by_id["17"][0]["conversations"][0] == {"from": "human", "value": "<image>\nHi"}
    assert "image" not in by_id["t1"][0]

    ingest("llava", tmp_path / "all" / "data.json", tmp_path / "all" / "images", tmp_path / "again",
           progress=False)
    assert samples(DatasetDir(tmp_path / "again")) == samples(dataset)


def test_export_names_missing_images_and_exits_one(pool, tmp_path):
    source, root = pool
    ingest("llava", source, root, tmp_path / "ds", progress=False, embed_images=False)
    (root / "ocr_vqa" / "c.png").unlink()  # the stored path no longer resolves
    result = runner.invoke(app, ["export", str(tmp_path / "ds"), "--format", "llava", "--all",
                                 "--out", str(tmp_path / "all")])
    assert result.exit_code == 1 and "1 samples" in " ".join(result.output.split()), result.output
    sidecar = json.loads((tmp_path / "all" / "selection.json").read_text())
    assert sorted(s["id"] for s in sidecar["skipped"]) == ["llava_v1_5_mix.json[4]"]
    assert sidecar["exported"] == 4


def test_export_without_selection_says_what_to_do(pool, tmp_path):
    source, root = pool
    ingest("llava", source, root, tmp_path / "ds", progress=False)
    result = runner.invoke(app, ["export", str(tmp_path / "ds"), "--format", "llava", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--all" in result.output
