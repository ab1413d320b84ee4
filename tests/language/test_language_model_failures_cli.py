"""`segcap describe` with a model server that is dead or answers garbage: loud, one line, and the
previous output untouched when the server is not there at all."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from flows.cli import app

from .fake_openai import FakeServer, closed_port_url

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())  # rich wraps long lines


def test_describe_against_a_dead_server_fails_in_seconds_and_keeps_the_previous_output(synthetic_dataset):
    dataset, _ = synthetic_dataset(seeds=(0,))
    first, output = invoke("describe", dataset.path)
    assert first.exit_code == 0, output
    before = sorted(r["description_id"] for r in dataset.read("descriptions").to_pylist())
    stats_before = (dataset.path / "stats.json").read_text()
    url = closed_port_url()
    started = time.monotonic()
    result, output = invoke("describe", dataset.path, "--backend", "openai", "--base-url", url)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, output
    assert url in output and "no OpenAI-compatible server answers" in output
    assert "Traceback" not in result.output and result.exception is None or isinstance(
        result.exception, SystemExit)
    assert elapsed < 10
    assert sorted(r["description_id"] for r in dataset.read("descriptions").to_pylist()) == before
    assert (dataset.path / "stats.json").read_text() == stats_before
    assert dataset.is_complete()


def test_describe_whose_answers_are_all_fallbacks_exits_1_with_the_counts(synthetic_dataset):
    dataset, _ = synthetic_dataset(seeds=(0,))
    with FakeServer(default="html") as server:
        result, output = invoke("describe", dataset.path, "--backend", "openai", "--base-url",
                                server.url, "--tasks", "root", "--attempts", "2", "--timeout-s", "2",
                                "--no-cache")
    assert result.exit_code == 1, output
    assert "were not the model's" in output and "template fallbacks" in output
    assert "--max-fallback-share 0.1" in output
    counters = dataset.stats()["stages"]["describe"]["counters"]
    assert counters["template_fallbacks"] > 0 and counters.get("model_answers", 0) == 0
    assert counters["failed_attempts_malformed"] == 2 * counters["template_fallbacks"]
    provenance = dataset.read("descriptions").to_pylist()[0]["provenance"]
    assert provenance["backend"] == "template" and "fallback_from" in provenance["params_json"]


def test_a_tolerated_share_of_fallbacks_passes_and_the_summary_shows_it(synthetic_dataset):
    dataset, _ = synthetic_dataset(seeds=(0,))
    with FakeServer(default="html") as server:
        result, output = invoke("describe", dataset.path, "--backend", "openai", "--base-url",
                                server.url, "--tasks", "root", "--attempts", "1", "--no-cache",
                                "--max-fallback-share", "1.0")
    assert result.exit_code == 0, output
    assert "model answers used" in output and "template fallbacks" in output
    assert "failed attempts: malformed" in output


GOOD_ANSWER = ('{"sentence": "A street scene.", "camera_motion": "static", "viewpoint": "medium", '
               '"weather": "sunny", "time_of_day": "day", "place": "street", "crowd_density": "low", '
               '"short": "a red box", "detailed": "A red box on the ground.", "category": "box", '
               '"colors": ["red"]}')


def test_one_bad_response_mid_stage_is_one_retried_attempt_and_the_stage_goes_on(synthetic_dataset):
    dataset, scenes = synthetic_dataset(seeds=(0, 1))
    with FakeServer(answer=GOOD_ANSWER) as server:
        server.script = ["html", "ok", "null_message", "ok", "nonjson", "500"]
        result, output = invoke("describe", dataset.path, "--backend", "openai", "--base-url",
                                server.url, "--tasks", "panoptic", "--no-cache")
    assert result.exit_code == 0, output
    counters = dataset.stats()["stages"]["describe"]["counters"]
    assert counters["failed_attempts_malformed"] == 3 and counters["failed_attempts_http_5xx"] == 1
    assert counters["model_answers"] > 0 and counters.get("template_fallbacks", 0) == 0
    rows = dataset.read("descriptions").to_pylist()
    assert {r["image_id"] for r in rows if r["scope"] == "scene"} == set(scenes)
    assert all(r["provenance"]["backend"] == "openai" for r in rows)


def test_a_server_that_dies_mid_run_stops_describe_with_one_line(synthetic_dataset):
    dataset, _ = synthetic_dataset(seeds=(0, 1, 2))
    with FakeServer(default="500") as server:
        started = time.monotonic()
        result, output = invoke("describe", dataset.path, "--backend", "openai", "--base-url",
                                server.url, "--tasks", "panoptic", "--no-cache")
        elapsed = time.monotonic() - started
        posts = server.posts
    assert result.exit_code == 1, output
    assert "failed 8 requests in a row (last: http_5xx)" in output and server.url in output
    assert posts < 20 and elapsed < 30  # it stopped; it did not try every item 3 times
    # nothing that looks like a finished describe is left behind
    assert not (dataset.is_complete() and dataset.has("descriptions"))
