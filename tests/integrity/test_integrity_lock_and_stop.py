"""One writer per dataset directory, and a clean stop on SIGINT / SIGTERM: real processes,
real signals, the real command line."""

from __future__ import annotations

import os
import signal
import time

import pytest
from integrity_helpers import (
    rows,
    run_driver,
    segcap,
    start_driver,
    uncommitted_files,
    units_done,
    wait_for,
)
from PIL import Image

from pipelines.engine.lock import LOCK_NAME
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.validate import validate_dataset

SLOW = {"SEGCAP_TEST_BATCH_SLEEP": "0.1"}


def test_integrity_second_writer_is_refused_at_once_readers_are_not(tmp_path, clean_rows):
    path = tmp_path / "ds"
    holder = start_driver(path, **SLOW)
    try:
        wait_for(units_done(path, "make", 1), holder)
        assert (path / LOCK_NAME).read_text().strip() == str(holder.pid)
        photos = tmp_path / "photos"
        photos.mkdir()
        Image.new("RGB", (8, 8), "red").save(photos / "red.png")
        started = time.monotonic()
        refused = segcap("ingest", "--format", "images", "--source", photos, "--out", path)
        assert refused.returncode == 1, refused.stderr
        assert f"{path.resolve()} is being written by another process (pid {holder.pid}" \
            in refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        elapsed = time.monotonic() - started
        reader = segcap("validate", path)  # not blocked: it reports, it does not wait
        assert "being written" not in reader.stdout + reader.stderr
        assert holder.poll() is None, "the first writer must not be disturbed"
    finally:
        out, err = holder.communicate(timeout=600)
    assert holder.returncode == 0, err[-2000:]
    assert rows(path) == clean_rows
    print(f"second writer refused in {elapsed:.2f}s (process start included)")


def test_integrity_lock_of_a_killed_writer_is_taken_over_with_a_note(tmp_path, clean_rows):
    path = tmp_path / "ds"
    killed = start_driver(path, **SLOW)
    wait_for(units_done(path, "describe_test", 2), killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    resumed = run_driver(path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"took over the lock of {path.resolve()} from pid {killed.pid}" in resumed.stderr
    assert rows(path) == clean_rows


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_integrity_stop_signal_mid_step_stops_cleanly_and_resumes(tmp_path, clean_rows, signum):
    path = tmp_path / "ds"
    run = start_driver(path, **SLOW)
    wait_for(units_done(path, "describe_test", 3), run)
    sent = time.monotonic()
    os.kill(run.pid, signum)  # the main process only: it must not need the whole group
    out, err = run.communicate(timeout=60)
    stop_seconds = time.monotonic() - sent
    assert run.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], err[-2000:]
    assert stop_seconds < 15
    assert "resume" in err and "Traceback" not in err
    assert not DatasetDir(path).is_complete()
    assert uncommitted_files(path) == []  # nothing half-written that looks like data
    assert "commits" not in validate_dataset(path).checks_failed()

    resumed = run_driver(path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert rows(path) == clean_rows
    assert DatasetDir(path).stats()["stages"]["describe_test"]["units_resumed"] >= 3
    print(f"{signal.Signals(signum).name}: stopped in {stop_seconds:.2f}s")
