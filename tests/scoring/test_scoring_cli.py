"""`segcap score`, `dedup` and `select` on a small instructions directory, bad rows included."""

from __future__ import annotations

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipelines.stages.instruction_rows import rows_or_errors
from schemas.contract import STYLES

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())  # rich wraps long lines


@pytest.fixture
def scored_dir(instructions_dir, helpers, tmp_path):
    image = instructions_dir.read("instructions").to_pylist()[0]["image_id"]
    bad = [
        helpers.instruction("b1", image, [("human", "<image>\nWhat is it?")]),
        helpers.instruction("b2", image, [("human", "What is it?"), ("gpt", "  ")]),
        helpers.instruction("b3", image, [("human", "What is it?"), ("gpt", None)]),
        helpers.instruction("b4", "0000000000000000", [("human", "<image>\nWhat?"), ("gpt", "A dog.")]),
        helpers.instruction("b5", None, [("human", "<image>\nWhat?"), ("gpt", "A dog.")]),
        helpers.instruction("s00", image, [("human", "Again?"), ("gpt", "Yes.")]),  # duplicate id
        helpers.instruction("t1", image, [("human", "Read this: " + "word " * 20_000), ("gpt", "ok")]),
    ]
    helpers.add_rows(instructions_dir, "instructions", bad, prefix="zz")
    result, output = invoke("score", instructions_dir.path, "--embedding-cache", tmp_path / "cache")
    assert result.exit_code == 0, output
    return instructions_dir, output


def test_score_rejects_bad_rows_with_reasons_and_scores_the_rest(scored_dir):
    dataset, output = scored_dir
    assert "score: 15 in, 8 out, 7 rejected" in output  # both copies of s00 are quarantined
    reasons = {r["input_ref"]: r["reason"] for r in dataset.read("rejects").to_pylist()}
    assert reasons == {"b1": "no_answer", "b2": "empty_turn", "b3": "non_string_turn",
                       "b4": "missing_image", "b5": "missing_image", "s00": "duplicate_id"}
    assert [r["input_ref"] for r in dataset.read("rejects").to_pylist()].count("s00") == 2
    rows = {r["sample_id"]: r for r in dataset.read("instructions").to_pylist()}
    assert "s00" not in rows
    assert "truncated from 100011 to 8000 chars" in rows["t1"]["scoring_notes"]
    assert dataset.stats()["stages"]["score"]["counters"]["truncated_turns"] == 1
    for row in rows.values():
        scores = list(row["capability_scores"].values())
        assert all(0 <= s <= 5 for s in scores) and max(scores) > 0
        assert row["styles"] and set(row["styles"]) <= set(STYLES)
    # the proxy is about topic: the OCR question scores highest on OCR, the chart one on data
    assert max(rows["s01"]["capability_scores"], key=rows["s01"]["capability_scores"].get) == \
        "optical_character_recognition"
    assert rows["s06"]["styles"][0] == "multi-choice" and "yes/no" in rows["s04"]["styles"]
    assert dataset.is_complete()


@pytest.mark.parametrize("method", ["mmssr", "random", "deita", "kmeans"])
def test_select_every_method_writes_the_columns(scored_dir, method, tmp_path):
    dataset, _ = scored_dir
    result, output = invoke("select", dataset.path, "--budget", 4, "--method", method,
                            "--seed", 1, "--embedding-cache", tmp_path / "cache")
    assert result.exit_code == 0, output
    assert "optical_character_recognition" in output and "selected" in output
    rows = dataset.read("instructions").to_pylist()
    assert sum(r["selected"] for r in rows) == 4
    label = {"deita": "deita(score=mean_capability_score, stand-in for complexity x quality)"}
    assert {r["selection_method"] for r in rows} == {label.get(method, method)}
    assert {r["budget"] for r in rows} == {4.0}


def test_select_shortfall_exits_one_and_deita_takes_an_external_score(scored_dir, helpers, tmp_path):
    dataset, _ = scored_dir
    result, output = invoke("select", dataset.path, "--budget", 4, "--threshold", 5)
    assert result.exit_code == 1 and "only 0 of the 4" in output, output
    assert dataset.stats()["stages"]["select"]["counters"]["shortfall"] == 4
    result, output = invoke("select", dataset.path, "--budget", 2, "--method", "deita",
                            "--deita-score-column", "nope", "--embedding-cache", tmp_path / "cache")
    assert result.exit_code == 2 and "nope" in output, output


def test_dedup_then_select_leaves_duplicates_out(scored_dir, helpers, tmp_path):
    dataset, _ = scored_dir
    original = dataset.read("instructions").to_pylist()[0]
    copy = {**original, "sample_id": "zz-copy"}
    helpers.add_rows(dataset, "instructions", [copy], prefix="zzz")
    result, output = invoke("dedup", dataset.path, "--no-semantic")
    assert result.exit_code == 0 and "exact: 1" in output, output
    result, output = invoke("select", dataset.path, "--budget", 1.0)
    assert result.exit_code == 0, output
    rows = {r["sample_id"]: r for r in dataset.read("instructions").to_pylist()}
    assert rows["zz-copy"]["duplicate_of"] == original["sample_id"]
    assert not rows["zz-copy"]["selected"]


def test_bad_arguments_exit_non_zero_with_a_message(instructions_dir, tmp_path):
    result, output = invoke("select", instructions_dir.path, "--budget", 2.5)
    assert result.exit_code == 2 and "--budget" in output
    result, output = invoke("select", tmp_path / "missing", "--budget", 0.5)
    assert result.exit_code == 2 and "does not exist" in output
    result, output = invoke("score", instructions_dir.path, "--backend", "nope")
    assert result.exit_code == 2 and "--backend" in output
    result, output = invoke("score", instructions_dir.path, "--score-mode", "mean")
    assert result.exit_code == 2 and "--score-mode" in output
    keywords = tmp_path / "keywords.json"
    keywords.write_text('{"juggling": "x"}')
    result, output = invoke("score", instructions_dir.path, "--capability-keywords", keywords)
    assert result.exit_code == 2 and "juggling" in output
    keywords.write_text("not json")
    result, output = invoke("score", instructions_dir.path, "--capability-keywords", keywords)
    assert result.exit_code == 2 and "--capability-keywords" in output
    result, output = invoke("dedup", instructions_dir.path, "--semantic-keep", "oldest")
    assert result.exit_code == 2 and "--semantic-keep" in output


def test_non_utf8_rows_come_back_as_errors_not_crashes():
    text = pa.array([b"fine", b"bad \xff byte"], pa.binary()).view(pa.string())
    rows = rows_or_errors(pa.table({"sample_id": text}))
    assert rows[0] == {"sample_id": "fine"} and isinstance(rows[1], UnicodeDecodeError)
