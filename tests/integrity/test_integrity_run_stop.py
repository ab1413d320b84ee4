"""`segcap run` (Prefect flow, its temporary server): a second run on the same directory is
refused at once; SIGINT mid-step exits 130 within 15 s, no server left running, and the next
run resumes to the clean run's rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from integrity_helpers import env_with, segcap, units_done, wait_for
from PIL import Image

from pipelines.engine.lock import LOCK_NAME
from pipelines.store.dataset_dir import DatasetDir

CONFIGS = ("images", "segments", "granularity_pairs")
RECIPE = """name: stop-test
output: dataset
inputs:
  - {id: photos, format: images, source: photos}
stages:
  - id: mine_superpixel
    stage: mine
    options: {source: superpixel, granularity: graco, points: 2, superpixel: {n_segments: 40}}
unit_rows: 1
ray: {enabled: false}
"""


def project(tmp_path, name):
    folder = tmp_path / name
    (folder / "photos").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(
            folder / "photos" / f"p{i}.png")
    (folder / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    return folder


def server_children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "uvicorn" in line and f" {pid} " in line]


@pytest.mark.slow
def test_integrity_segcap_run_stops_on_sigint_and_resumes(tmp_path):
    # One Prefect home for the three runs; a loaded machine needs time to start its server.
    env = env_with(PREFECT_HOME=str(tmp_path / "prefect-home"),
                   PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
    clean = project(tmp_path, "clean")
    first = segcap("run", clean / "recipe.yaml", cwd=clean, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    expected = {c: DatasetDir(clean / "dataset").read(c).to_pylist() for c in CONFIGS}

    stopped = project(tmp_path, "stopped")
    run = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "recipe.yaml"], cwd=stopped,
                           env=env, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    lock = stopped / "dataset" / LOCK_NAME
    wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(run.pid), run)
    second = segcap("run", "recipe.yaml", cwd=stopped, env=env)  # refused before Prefect starts
    assert second.returncode == 1 and f"(pid {run.pid}" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr and second.stderr.count("\n") == 1
    wait_for(units_done(stopped / "dataset", "mine_superpixel", 2), run, limit=400)
    sent = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    out, err = run.communicate(timeout=60)
    stop_seconds = time.monotonic() - sent
    assert run.returncode == 130, err[-3000:]
    assert stop_seconds < 15
    assert "`segcap run recipe.yaml` resumes it" in err
    assert server_children(run.pid) == []
    assert not DatasetDir(stopped / "dataset").is_complete()

    resumed = segcap("run", "recipe.yaml", cwd=stopped, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed" in resumed.stdout
    for config in CONFIGS:
        assert DatasetDir(stopped / "dataset").read(config).to_pylist() == expected[config]
    print(f"segcap run: SIGINT to exit in {stop_seconds:.2f}s")
