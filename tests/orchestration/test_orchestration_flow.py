"""The curate and publish flows through Prefect (test server) on local Ray."""

from __future__ import annotations

from pathlib import Path

import orchestration_stages as stages
import pytest
from prefect import flow

from flows.curate import run_steps
from pipelines.engine.plan import Step
from pipelines.engine.ray_exec import RayExecutor, RaySettings
from pipelines.store.dataset_dir import DatasetDir
from schemas.recipe import PrefectSection


def _steps(tmp_path: Path) -> list[Step]:
    flag = tmp_path / "failed-once"
    return [
        Step("make", "make", "k-make", lambda: stages.MakeInstructions(batch_size=8),
             inputs=lambda: iter(stages.item_tables(40))),
        Step("fails_once", "describe", "k-flaky",
             lambda: stages.FailsOnce(batch_size=8, flag=str(flag)), calls_models=True),
    ]


def test_orchestration_flow_retries_a_failing_model_step(tmp_path, prefect_server, ray_session):
    dataset = DatasetDir(tmp_path / "ds")

    @flow
    def flaky_run():
        return run_steps(_steps(tmp_path), dataset, PrefectSection(retries=2, retry_delay_seconds=0),
                         RayExecutor(RaySettings()), unit_rows=10, progress=False)

    results = flaky_run()
    assert (tmp_path / "failed-once").read_text() == "failed once"  # the first attempt did fail
    assert [r["step"] for r in results] == ["make", "fails_once"]
    assert results[1]["rows_out"] == dataset.count("descriptions") == results[0]["rows_out"]
    assert dataset.is_complete()


def test_orchestration_flow_without_retries_fails(tmp_path, prefect_server, ray_session):
    dataset = DatasetDir(tmp_path / "ds")

    @flow
    def flaky_run():
        return run_steps(_steps(tmp_path), dataset, PrefectSection(retries=0),
                         RayExecutor(RaySettings()), unit_rows=10, progress=False)

    with pytest.raises(Exception, match="transient failure"):
        flaky_run()
    assert not dataset.is_complete()


@pytest.mark.slow
def test_orchestration_demo_recipe_through_prefect_on_ray(tmp_path, prefect_server, ray_session):
    from datasets import load_dataset

    from flows.commands.demo import run_demo
    from pipelines.store.validate import validate_dataset

    results, report = run_demo(tmp_path / "demo", progress=False)
    out = tmp_path / "demo" / "dataset"
    report_ok = validate_dataset(out)
    assert report_ok.ok, report_ok.violations[:5]
    steps = {r["step"]: r for r in results}
    assert {"scenes", "photos", "mot", "llava", "describe", "score", "dedup", "select"} <= set(steps)
    # every demo caption and description is true of its image, as far as the rules can check
    for step in ("verify", "verify_descriptions"):
        counters = steps[step]["counters"]
        assert counters.get("verify_fail", 0) == 0 and counters.get("verify_pass", 0) > 0, counters
    for config in DatasetDir(out).configs():
        loaded = load_dataset(str(out), config, split="train")
        assert len(loaded) == DatasetDir(out).count(config)
    selected = DatasetDir(out).read("instructions", ["selected"]).column("selected").to_pylist()
    assert 0 < sum(selected) < len(selected)
    assert report.is_file()
    # A second run is answered by the cache / resume state: nothing recomputed.
    again, _ = run_demo(tmp_path / "demo", progress=False)
    assert [r.get("rows_out") for r in again] == [r.get("rows_out") for r in results]
