"""Fault injection: crash the process (os._exit) at each named commit point, then resume; the
resumed dataset must equal a clean run's row for row, with nothing uncommitted left over."""

from __future__ import annotations

import pytest
from integrity_helpers import STEPS, rows, run_driver, uncommitted_files

from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.faults import CRASH_EXIT_CODE, POINTS
from pipelines.store.step_state import StepState
from pipelines.store.validate import validate_dataset

# <point>:<n>: the n-th pass, chosen to land mid-step (make: 12 units of 20 rows, two shards
# each; describe_test: 12 units; select_test: 12 units, then the one swap).
CRASHES = {
    "after_shard_write": "after_shard_write:5",
    "after_rename": "after_rename:30",
    "before_marker": "before_marker:14",
    "after_marker": "after_marker:30",
    "during_swap": "during_swap:1",
}


def test_integrity_every_commit_point_has_a_crash_case():
    assert set(CRASHES) == set(POINTS)


@pytest.mark.parametrize("point", list(CRASHES))
def test_integrity_crash_at_commit_point_then_resume_equals_clean_run(tmp_path, clean_rows, point):
    path = tmp_path / "ds"
    crashed = run_driver(path, SEGCAP_CRASH_AT=CRASHES[point])
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    assert not DatasetDir(path).is_complete()

    resumed = run_driver(path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert rows(path) == clean_rows
    assert uncommitted_files(path) == []
    assert "commits" not in validate_dataset(path).checks_failed()
    dataset = DatasetDir(path)
    assert dataset.is_complete()
    assert all(StepState(dataset, step).finished() is not None for step in STEPS)
    assert dataset.stats()["stages"]["make"]["rows_in"] == 240
