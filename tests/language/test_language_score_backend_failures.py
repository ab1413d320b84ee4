"""`segcap score --backend openai`: a dead server is one line before anything is touched; a judge
whose requests fail is counted (stats.json, summary) and exits 1 above --max-fallback-share."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import CAPABILITY_FIELDS, table_from_rows

from .fake_openai import FakeServer, closed_port_url

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())


@pytest.fixture
def text_instructions(tmp_path):
    rows = [{"sample_id": f"s{k}", "image_id": None, "source": "t",
             "conversations": [{"from": "human", "value": f"What is {k} + {k}?"},
                               {"from": "gpt", "value": str(2 * k)}],
             "capability_scores": dict.fromkeys(CAPABILITY_FIELDS), "styles": [],
             "selected": False, "selection_method": None, "budget": None, "duplicate_of": None}
            for k in range(3)]
    dataset = DatasetDir(tmp_path / "ds")
    writer = dataset.shard_writer("instructions", "test")
    writer.write(table_from_rows("instructions", rows))
    writer.close()
    dataset.finalize()
    return dataset


def test_score_against_a_dead_server_is_one_line_and_leaves_the_directory(text_instructions):
    before = text_instructions.read("instructions").to_pylist()
    url = closed_port_url()
    result, output = invoke("score", text_instructions.path, "--backend", "openai", "--base-url", url)
    assert result.exit_code == 1, output
    assert f"no OpenAI-compatible server answers at {url}" in output
    assert text_instructions.read("instructions").to_pylist() == before
    assert text_instructions.is_complete()


def test_score_with_a_healthy_judge_scores_every_capability(text_instructions):
    with FakeServer(answer="4") as server:
        result, output = invoke("score", text_instructions.path, "--backend", "openai",
                                "--base-url", server.url, "--attempts", "1")
    assert result.exit_code == 0, output
    rows = text_instructions.read("instructions").to_pylist()
    assert all(set(r["capability_scores"].values()) == {4.0} for r in rows)
    counters = text_instructions.stats()["stages"]["score"]["counters"]
    assert counters["requests"] == 3 * len(CAPABILITY_FIELDS) and counters.get("failed_requests", 0) == 0


def test_score_whose_judge_answers_garbage_exits_1_with_the_counts(text_instructions):
    before = text_instructions.read("instructions").to_pylist()
    with FakeServer(default="null_message") as server:
        result, output = invoke("score", text_instructions.path, "--backend", "openai",
                                "--base-url", server.url, "--attempts", "2", "--timeout-s", "2")
    assert result.exit_code == 1, output
    total = 3 * len(CAPABILITY_FIELDS)
    assert f"{total} of {total} model requests (100%) were not the model's" in output
    assert f"failed attempts: malformed {2 * total}" in output
    counters = text_instructions.stats()["stages"]["score"]["counters"]
    assert counters["failed_requests"] == total and counters["failed_attempts_malformed"] == 2 * total
    assert "failed" in text_instructions.stats()["stages"]["score"]
    # a result that is not what was asked is not swapped in: the previous version stays
    assert text_instructions.read("instructions").to_pylist() == before
