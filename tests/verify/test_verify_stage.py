"""`segcap verify` end to end: verdicts in the contract, counted, validated, carded, gated."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from flows.cli import app
from pipelines.store.validate import validate_dataset
from schemas.contract import VERDICTS

from .conftest import described_dataset, plant_pink, rewrite_segcap

runner = CliRunner()


def read(dataset, config):
    return pq.read_table(sorted((dataset.path / config).glob("*.parquet"))).to_pylist()


def test_verify_writes_a_verdict_per_phrase_and_description(tmp_path):
    dataset = described_dataset(tmp_path / "data", seeds=(0, 1))
    before = {r["sample_id"]: r for r in read(dataset, "segcap")}
    result = runner.invoke(app, ["verify", str(dataset.path)])
    assert result.exit_code == 0, result.output
    after = read(dataset, "segcap")
    assert {r["sample_id"] for r in after} == set(before)
    for row in after:
        assert row["conversations"] == before[row["sample_id"]]["conversations"]
        assert len(row["verification"]) == len(row["masks"])
        assert {e["verdict"] for e in row["verification"]} <= set(VERDICTS)
        assert all(e["verifier"] == "rules" and e["provenance"]["annotator"] == "verify-rules"
                   for e in row["verification"])
    assert all(len(r["verification"]) == 1 for r in read(dataset, "descriptions"))
    stats = json.loads((dataset.path / "stats.json").read_text())["stages"]
    counters = stats["verify"]["counters"]
    phrases = sum(len(r["masks"]) for r in after)
    assert sum(counters.get(f"verify_{v}", 0) for v in VERDICTS) == phrases
    assert counters.get("verify_fail", 0) == 0  # template captions of ground truth are right
    report = validate_dataset(dataset.path)
    assert report.ok, report.violations
    assert sum(report.verdicts.values()) == phrases + len(read(dataset, "descriptions"))
    assert "## Verification" in (dataset.path / "README.md").read_text()


def test_max_fail_share_turns_failures_into_a_failing_exit(tmp_path):
    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    rows = read(dataset, "segcap")
    # a caption that says every region is pink: the colour checks fail
    for row in rows:
        for turn in row["conversations"]:
            if turn["from"] == "gpt":
                for colour in ("grey", "black", "purple", "brown", "blue", "orange", "red",
                               "green", "cyan", "yellow", "white"):
                    turn["value"] = turn["value"].replace(f" {colour} ", " pink ")
    rewrite_segcap(dataset, rows)
    result = runner.invoke(app, ["verify", str(dataset.path), "--max-fail-share", "0.05"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert "failed" in output and "--max-fail-share" in output and "Traceback" not in output
    counters = json.loads((dataset.path / "stats.json").read_text())["stages"]["verify"]["counters"]
    assert counters["verify_fail"] > 0 and counters["verify_fail_colour"] > 0


def test_verify_needs_captions_or_descriptions(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


def test_recipe_step_builds_the_verify_stages(tmp_path):
    from pipelines.engine.plan import plan_run
    from pipelines.engine.recipe import parse_recipe
    from pipelines.store.dataset_dir import DatasetDir

    (tmp_path / "imgs").mkdir()
    recipe = parse_recipe(
        "name: t\noutput: out\ninputs:\n  - {format: images, source: imgs}\n"
        "stages:\n  - {stage: describe}\n  - {stage: verify}\n"
        "  - {stage: verify_descriptions, options: {verifier: rules}}\n",
        base_dir=tmp_path)
    steps = plan_run(recipe, DatasetDir(tmp_path / "out"))
    built = {s.stage_name: s.build() for s in steps}
    assert built["verify"].input_config == "segcap" and built["verify"].replaces_input
    assert built["verify_descriptions"].input_config == "descriptions"


def test_drop_failed_leaves_failed_samples_out_of_exports_and_readers(tmp_path):
    from pipelines.training.segcap import SegCapTorchDataset

    dataset = described_dataset(tmp_path / "data", seeds=(0, 1))
    rows = read(dataset, "segcap")
    wrong = plant_pink(dataset)
    assert runner.invoke(app, ["verify", str(dataset.path)]).exit_code == 0
    failed = {r["sample_id"] for r in read(dataset, "segcap")
              if any(e["verdict"] == "fail" for e in r["verification"])}
    assert failed == {wrong}
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", str(dataset.path), "--out", str(out), "--drop-failed"])
    assert result.exit_code == 0, result.output
    assert "segcap_failed_verification_dropped: 1" in " ".join(result.output.split())
    exported = {r["sample_id"] for r in pq.read_table(out / "segcap").to_pylist()}
    assert wrong not in exported and len(exported) == len(rows) - 1
    kept_all = runner.invoke(app, ["export", str(dataset.path), "--out", str(tmp_path / "all")])
    assert kept_all.exit_code == 0
    assert len(pq.read_table(tmp_path / "all" / "segcap")) == len(rows)
    reader = SegCapTorchDataset(dataset.path, drop_failed=True)
    assert len(reader) == len(rows) - 1 and reader.dropped_failed == 1
    assert len(SegCapTorchDataset(dataset.path)) == len(rows)


def test_a_batch_of_track_descriptions_alone_is_verified(tmp_path):
    """Track descriptions carry no image_id: a batch of only those reads no image (an empty,
    typed filter) and checks their category words against the track's boxes."""
    from pipelines.stages.verify import VerifyDescriptionsStage
    from schemas.contract import table_from_rows

    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    track = {"description_id": "t1", "image_id": None, "video_id": "v1", "scope": "track",
             "target_id": "1", "short": "a red car", "detailed": "A car moving right.",
             "attributes": [], "provenance": None}
    stage = VerifyDescriptionsStage()
    stage.dataset_path = str(dataset.path)
    stage.setup()
    output = stage.process(table_from_rows("descriptions", [track]))
    verdicts = output.tables["descriptions"].column("verification").to_pylist()[0]
    assert verdicts[0]["verdict"] == "unsure"  # no boxes of track 1 in v1: nothing to check against


def test_verify_provenance_time_is_the_steps_pinned_time(tmp_path):
    """The engine pins one created_at per step around setup (so a resumed step writes the same
    time); the verify stage must take that time, not read the clock."""
    from pipelines.stages.verify import VerifyStage
    from schemas.provenance import pinned_created_at

    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    stage = VerifyStage()
    stage.dataset_path = str(dataset.path)
    with pinned_created_at("2000-01-01T00:00:00+00:00"):
        stage.setup()
    output = stage.process(dataset.read("segcap"))
    times = {e["provenance"]["created_at"] for v in output.tables["segcap"].column("verification").to_pylist()
             for e in v}
    assert times == {"2000-01-01T00:00:00+00:00"}
