"""Integrity tests: the orchestration test stages and driver (a process of its own), and one
clean run of it to compare every crashed, stopped, damaged and resumed run against."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from integrity_helpers import rows, run_driver  # noqa: E402


@pytest.fixture(scope="session")
def clean_rows(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("clean") / "ds"
    result = run_driver(path)
    assert result.returncode == 0, result.stderr[-3000:]
    return rows(path)
