"""A single-stage command on Ray (SEGCAP_EXECUTOR=ray) shuts down the local Ray it started and
removes that Ray's session folder: runs do not leave /tmp/ray/session_* behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from integrity_helpers import ORCHESTRATION, env_with

from pipelines.store.dataset_dir import DatasetDir

SCRIPT = f"""
import sys
sys.path.insert(0, {str(ORCHESTRATION)!r})
import orchestration_stages as stages
import ray.cloudpickle
ray.cloudpickle.register_pickle_by_value(stages)
from pipelines.store.dataset_dir import DatasetDir
from pipelines.engine.runner import run_stage
stats = run_stage(stages.MakeInstructions(batch_size=8), DatasetDir(sys.argv[1]),
                  inputs=stages.item_tables(40), progress=False)
print(stats.summary_line())
"""


@pytest.mark.slow
def test_integrity_single_stage_on_ray_removes_its_ray_session(tmp_path):
    # A short folder of our own: Ray's socket paths must stay under 107 bytes.
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "ds")],
                            env=env_with(RAY_TMPDIR=str(ray_tmp), SEGCAP_EXECUTOR="ray"),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "make: 40 in, 34 out, 6 rejected" in result.stdout
    assert DatasetDir(tmp_path / "ds").count("instructions") == 34
    leftover = list(ray_tmp.rglob("session_*"))
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert leftover == []
