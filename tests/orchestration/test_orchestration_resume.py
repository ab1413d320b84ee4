"""Resume: SIGKILL a run mid-stage, restart it, and get the clean run's dataset row by row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState

HERE = Path(__file__).parent
DRIVER = HERE / "resume_driver.py"
CONFIGS = ("instructions", "descriptions", "rejects")


def run_driver(path: Path, mode: str, word: str = "x", env_extra: dict | None = None,
               kill_when=None) -> int:
    env = {**os.environ, **(env_extra or {})}
    process = subprocess.Popen([sys.executable, str(DRIVER), str(path), mode, word], env=env,
                               start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    if kill_when is None:
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0, out.decode(errors="replace")[-3000:]
        return 0
    deadline = time.monotonic() + 240
    while not kill_when(path):
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and every process it started
    process.wait(timeout=30)
    return process.returncode


def units_done(step: str, at_least: int):
    def reached(path: Path) -> bool:
        units = path / ".segcap-run" / step / "units"
        return units.is_dir() and len(list(units.glob("*.json"))) >= at_least
    return reached


def commits(dataset: DatasetDir, step: str) -> dict[str, tuple]:
    """What the step committed: each unit marker and done.json, by content and file identity.
    A commit writes them atomically (a new file renamed over the old, so a new inode and
    mtime), so an equal snapshot means the step committed nothing anew; a re-commit of changed
    rows also changes the markers' shard sha256."""
    state = StepState(dataset, step)
    files = [state.root / "done.json", *(state.unit_marker(u) for u in state.unit_ids())]
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_text(encoding="utf-8"))
            for p in files}


def rows(path: Path) -> dict[str, list[dict]]:
    dataset = DatasetDir(path)
    return {config: dataset.read(config).to_pylist() for config in CONFIGS}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("clean") / "ds"
    run_driver(path, "local")
    return rows(path)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["local", "ray"])
@pytest.mark.parametrize("kill_point", [("make", 3), ("select_test", 2)],
                         ids=["mid-ingest", "mid-replacing-stage"])
def test_orchestration_sigkill_then_resume_equals_clean_run(tmp_path, clean_run, mode, kill_point):
    path = tmp_path / "ds"
    slow = {"SEGCAP_TEST_BATCH_SLEEP": "0.05"}
    code = run_driver(path, mode, env_extra=slow, kill_when=units_done(*kill_point))
    assert code == -signal.SIGKILL
    assert not DatasetDir(path).is_complete()
    run_driver(path, mode)
    resumed = rows(path)
    for config in CONFIGS:
        assert resumed[config] == clean_run[config], config
    ids = [r["sample_id"] for r in resumed["instructions"]]
    assert len(ids) == len(set(ids)) == 240 - len(range(0, 240, 7))
    stats = DatasetDir(path).stats()["stages"]
    assert stats[kill_point[0]]["units_resumed"] >= kill_point[1]
    assert stats["make"]["rows_in"] == 240


def test_orchestration_config_change_redoes_that_step_and_later_only(tmp_path):
    path = tmp_path / "ds"
    run_driver(path, "local", word="x")
    dataset = DatasetDir(path)
    tokens = {s: commits(dataset, s) for s in ("make", "describe_test", "select_test")}
    run_driver(path, "local", word="y")
    after = {s: commits(dataset, s) for s in tokens}
    assert after["make"] == tokens["make"]
    assert after["describe_test"] != tokens["describe_test"]
    assert after["select_test"] != tokens["select_test"]
    instructions = dataset.read("instructions").to_pylist()
    assert all(r["conversations"][1]["value"].endswith(" x") for r in instructions)
    assert all(d["short"].endswith(" x") for d in dataset.read("descriptions").to_pylist())
    # The replacing step ran once on the restored pre-selection version, not on its own output.
    assert [r["selected"] for r in instructions] == [int(r["sample_id"][1:]) % 2 == 0
                                                     for r in instructions]
    assert len(instructions) == 240 - len(range(0, 240, 7))


def test_orchestration_unchanged_rerun_skips_every_step(tmp_path):
    path = tmp_path / "ds"
    run_driver(path, "local")
    before = rows(path)
    tokens = [commits(DatasetDir(path), s) for s in ("make", "describe_test")]
    run_driver(path, "local")
    assert rows(path) == before
    assert [commits(DatasetDir(path), s) for s in ("make", "describe_test")] == tokens


def test_orchestration_single_stage_command_and_recipe_step_share_one_engine(tmp_path):
    """A single-stage command runs as step `<stage name>` through the same engine: same shard
    names, same markers. Its own key replaces the recipe step's, so the next recipe run redoes
    the step (never skips it on the command's output), and the rows are the same either way."""
    from orchestration_stages import Describe, MakeInstructions, item_tables

    from pipelines.engine.execute import execute_step
    from pipelines.engine.runner import run_stage

    dataset = DatasetDir(tmp_path / "ds")
    run_stage(MakeInstructions(), dataset, inputs=item_tables(60))
    execute_step(Describe(), dataset, progress=False)
    state = StepState(dataset, "describe_test")
    recipe_key = state.key()
    expected = sorted(r["description_id"] for r in dataset.read("descriptions").to_pylist())

    command = run_stage(Describe(), dataset, progress=False)
    assert not command.extra.get("skipped")  # a command asked again recomputes
    assert state.key() != recipe_key and state.finished() is not None
    names = sorted(p.name for p in dataset.shard_paths("descriptions"))
    assert names and all(n.startswith("describe_test-s0") for n in names)
    stats = execute_step(Describe(), dataset, progress=False)
    assert not stats.extra.get("skipped")
    assert sorted(r["description_id"] for r in dataset.read("descriptions").to_pylist()) == expected
    again = execute_step(Describe(), dataset, progress=False)
    assert again.extra.get("skipped")
