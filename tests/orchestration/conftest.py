"""Shared fixtures: one local Ray (2 CPUs) and one Prefect test server per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import orchestration_stages  # noqa: E402  (needs HERE on sys.path)


@pytest.fixture(scope="session")
def ray_session():
    import ray
    import ray.cloudpickle

    from pipelines.engine.ray_exec import RaySettings, ensure_ray

    # The test stages live outside any installed package: ship them to workers by value.
    ray.cloudpickle.register_pickle_by_value(orchestration_stages)
    ensure_ray(RaySettings(num_cpus=2, object_store_mb=256))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
