"""Helpers of the integrity tests: run the orchestration driver (a real process) and the real
`segcap` CLI, read a dataset's rows, find files no commit record lists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATION = ROOT / "tests" / "orchestration"
sys.path.insert(0, str(ORCHESTRATION))
DRIVER = ORCHESTRATION / "resume_driver.py"
CONFIGS = ("instructions", "descriptions", "rejects")
STEPS = ("make", "describe_test", "select_test")


def env_with(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SEGCAP_CRASH_AT",)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def start_driver(path: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DRIVER), str(path), "local"], env=env_with(**extra),
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_driver(path: Path, **extra: str) -> subprocess.CompletedProcess:
    process = start_driver(path, **extra)
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def segcap(*args: str, cwd: Path | None = None, timeout: float = 600,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line, as a user runs it (a process of its own)."""
    return subprocess.run([sys.executable, "-m", "flows.cli", *map(str, args)], cwd=cwd,
                          env=env or env_with(), capture_output=True, text=True, timeout=timeout)


def rows(path: Path) -> dict[str, list[dict]]:
    from pipelines.store.dataset_dir import DatasetDir

    dataset = DatasetDir(path)
    return {config: dataset.read(config).to_pylist() for config in CONFIGS}


def wait_for(condition, process: subprocess.Popen, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, f"the run ended first: {process.communicate()}"
        assert time.monotonic() < deadline, "the awaited point was never reached"
        time.sleep(0.05)


def units_done(path: Path, step: str, at_least: int):
    units = path / ".segcap-run" / step / "units"
    return lambda: units.is_dir() and len(list(units.glob("*.json"))) >= at_least


def uncommitted_files(path: Path) -> list[str]:
    """Files of the dataset that no unit marker lists: half-written output left behind."""
    from pipelines.store.dataset_dir import DatasetDir
    from pipelines.store.step_state import StepState

    dataset = DatasetDir(path)
    listed = set()
    for step in STEPS:
        state = StepState(dataset, step)
        for unit in state.unit_ids():
            listed.update(s["name"] for s in (state.unit_record(unit) or {}).get("shards", []))
    found = []
    for config in CONFIGS:
        directory = dataset.config_dir(config)
        for file in directory.iterdir() if directory.is_dir() else []:
            if file.name not in listed or re.search(r"\.tmp$", file.name):
                found.append(f"{config}/{file.name}")
    return found
