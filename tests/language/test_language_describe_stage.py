"""`segcap describe` end to end: still images, MOT videos, caching, rejects, the contract."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from annotators.describe.segcap import row_problems
from flows.cli import app
from pipelines.store.dataset_dir import DatasetDir
from schemas.masks import decode

from .conftest import write_mot_sequence

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    result.text = " ".join(result.output.split())  # rich wraps long error lines
    return result


def test_template_describe_writes_descriptions_and_aligned_segcap(synthetic_dataset):
    dataset, scenes = synthetic_dataset()
    result = invoke("describe", dataset.path)
    assert result.exit_code == 0, result.output
    assert "describe:" in result.output and "rejected" in result.output
    descriptions = dataset.read("descriptions").to_pylist()
    scene_rows = [d for d in descriptions if d["scope"] == "scene"]
    assert sorted(d["image_id"] for d in scene_rows) == sorted(scenes)
    instance_rows = [d for d in descriptions if d["scope"] == "instance"]
    assert len(instance_rows) == sum(len(s.objects) for s in scenes.values())
    segcap = dataset.read("segcap").to_pylist()
    tasks = {row["task"] for row in segcap}
    assert tasks == {"mgsc", "panoptic", "referring", "region_caption"}
    for row in segcap:
        assert row_problems(row) == []
        height, width = next(iter(scenes.values())).pixels.shape[:2]
        assert all(decode(m).shape == (height, width) for m in row["masks"])
        assert row["conversations"][0]["value"].startswith("<image>\n")
        assert row["provenance"]["prompt_sha256"] and row["provenance"]["created_at"]
    assert dataset.is_complete()
    import datasets

    loaded = datasets.load_dataset(str(dataset.path), "segcap", split="train")
    assert loaded.num_rows == len(segcap)


def test_rerun_with_a_model_is_served_from_the_cache(synthetic_dataset, tiny_model_dir):
    dataset, _ = synthetic_dataset(seeds=(0,))
    args = ("describe", dataset.path, "--backend", "transformers", "--model", tiny_model_dir,
            "--max-new-tokens", "8", "--max-retries", "1", "--tasks", "root,subtree",
            "--max-fallback-share", "1.0")  # random weights: every answer falls back, by design
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    stats = dataset.stats()["stages"]["describe"]["counters"]
    assert stats["cache_misses"] > 0 and stats["cache_hits"] == 0
    rows_before = dataset.read("descriptions").to_pylist()
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    stats = dataset.stats()["stages"]["describe"]["counters"]
    assert stats.get("cache_misses", 0) == 0 and stats["cache_hits"] > 0
    rows_after = dataset.read("descriptions").to_pylist()
    assert [r["short"] for r in rows_after] == [r["short"] for r in rows_before]  # replaced, not doubled
    for row in rows_after:
        params = json.loads(row["provenance"]["params_json"])
        assert row["provenance"]["backend"] == "template"  # garbage weights -> fallback, recorded
        assert params["fallback_from"].startswith("transformers:") and params["fallback_reason"]


def test_reject_policy_quarantines_bad_answers_with_their_raw_text(synthetic_dataset, tiny_model_dir):
    dataset, _ = synthetic_dataset(seeds=(1,))
    result = invoke("describe", dataset.path, "--backend", "transformers", "--model", tiny_model_dir,
                    "--max-new-tokens", "4", "--max-retries", "0", "--on-failure", "reject",
                    "--tasks", "root", "--no-cache", "--max-fallback-share", "1.0")
    assert result.exit_code == 0, result.output
    assert not dataset.has("descriptions") and not dataset.has("segcap")
    rejects = dataset.read("rejects").to_pylist()
    assert rejects and all(r["reason"] == "unusable_model_answer" for r in rejects)
    assert all("no JSON object found" in r["raw"] or "regions missing" in r["raw"]
               or "unknown tags" in r["raw"] for r in rejects)


def test_mot_video_gets_one_scene_and_one_description_per_track(tmp_path):
    source = tmp_path / "mot"
    write_mot_sequence(source, "static-seq", frames=6)
    write_mot_sequence(source, "panning-seq", frames=6, camera_shift=6)
    out = tmp_path / "ds"
    ingested = invoke("ingest", "--format", "mot", "--source", source, "--out", out)
    assert ingested.exit_code == 0, ingested.output
    # batch size 4 splits each 6-frame video across batches: the video pass must not care
    result = invoke("describe", out, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    rows = DatasetDir(out).read("descriptions").to_pylist()
    scenes = {r["video_id"]: r for r in rows if r["scope"] == "scene"}
    tracks = {(r["video_id"], r["target_id"]): r for r in rows if r["scope"] == "track"}
    assert set(scenes) == {"static-seq", "panning-seq"}
    assert set(tracks) == {(v, t) for v in scenes for t in ("1", "2")}
    camera = {v: {a["name"]: a["value"] for a in r["attributes"]}["camera_motion"] for v, r in scenes.items()}
    assert camera == {"static-seq": "static", "panning-seq": "moving"}
    for video in scenes:
        walker = {a["name"]: a["value"] for a in tracks[(video, "1")]["attributes"]}
        stander = {a["name"]: a["value"] for a in tracks[(video, "2")]["attributes"]}
        assert walker["action"] == "moves right" and stander["action"] == "stays in place"
        assert walker["colors"].startswith("red") and stander["colors"].startswith("blue")
        assert walker["frames"] == "6"
        assert "A scene captured by a" in scenes[video]["short"]
    assert all(r["image_id"] is None for r in rows)
    assert not DatasetDir(out).has("segcap")  # box tracks get descriptions, not SegCap captions


def test_missing_dataset_is_a_clear_error(tmp_path):
    result = invoke("describe", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.text


def test_transformers_without_model_is_a_clear_error(synthetic_dataset):
    dataset, _ = synthetic_dataset(seeds=(0,))
    result = invoke("describe", dataset.path, "--backend", "transformers")
    assert result.exit_code == 2 and "--model" in result.text


def test_undecodable_image_is_rejected_and_the_run_goes_on(synthetic_dataset):
    from schemas.contract import table_from_rows

    dataset, scenes = synthetic_dataset(seeds=(0,))
    broken = {"image_id": "broken00000000", "image": {"bytes": b"not an image", "path": "x.png"},
              "file_name": "x.png", "width": 8, "height": 8, "sha256": "0" * 64, "source": "t",
              "video_id": None, "frame_index": None}
    writer = dataset.shard_writer("images", "broken")
    writer.write(table_from_rows("images", [broken]))
    writer.close()
    result = invoke("describe", dataset.path)
    assert result.exit_code == 0, result.output
    rejects = dataset.read("rejects").to_pylist()
    assert [(r["input_ref"], r["reason"]) for r in rejects] == [("broken00000000", "unreadable_image")]
    scene_ids = {d["image_id"] for d in dataset.read("descriptions").to_pylist() if d["scope"] == "scene"}
    assert scene_ids == set(scenes)
