"""Quiet by default: Ray's and Prefect's log lines go to the run's log file, not the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from pathlib import Path
from flows.run_logging import route_library_logs
log = route_library_logs(Path(sys.argv[1]))
print("routed to", log)
logging.getLogger("prefect.flow_runs").warning("a prefect line")
logging.getLogger("ray.data").warning("a ray line")
logging.getLogger("somelib").warning("a library warning")
"""


def _run(tmp_path: Path, verbose: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_HOME": str(tmp_path / "ph")}
    env.pop("SEGCAP_VERBOSE", None)
    if verbose:
        env["SEGCAP_VERBOSE"] = "1"
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "logs" / "run.log")],
                          env=env, capture_output=True, text=True, timeout=300)


def test_library_logs_go_to_the_file(tmp_path):
    result = _run(tmp_path, verbose=False)
    assert result.returncode == 0, result.stderr
    assert "a prefect line" not in result.stderr and "a ray line" not in result.stderr
    text = (tmp_path / "logs" / "run.log").read_text()
    assert "a prefect line" in text and "a ray line" in text and "a library warning" in text


def test_verbose_keeps_them_on_the_terminal(tmp_path):
    result = _run(tmp_path, verbose=True)
    assert result.returncode == 0, result.stderr
    assert "routed to None" in result.stdout
    assert "a prefect line" in result.stderr and "a ray line" in result.stderr
    assert not (tmp_path / "logs").exists()
