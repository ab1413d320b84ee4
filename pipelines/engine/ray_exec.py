"""Ray Data execution of the stage shape: CPU stages as tasks, model stages as actor pools.

The Ray dataset is the list of pending work units (file + row range: a few bytes each); every
`map_batches` call takes one unit, reads its rows from Parquet in the worker, runs the stage
batch by batch, and commits the unit's shards and marker (`pipelines.engine.units.run_unit`). Images
therefore travel as Parquet bytes read where they are processed, never as decoded arrays
through the object store, and at most `concurrency` units are in memory at once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from pipelines.engine.stage import Stage
from pipelines.engine.stopping import check_stop, on_hard_exit
from pipelines.engine.units import WorkUnit, run_unit
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState
from schemas.provenance import pinned_created_at

DEFAULT_OBJECT_STORE_MB = 1024

# One set-up stage per worker process and step: Ray reuses worker processes across tasks, so a
# CPU stage's `setup` (e.g. a selection plan) runs once per worker, not once per unit.
_SET_UP: dict[tuple[str, str], Stage] = {}


@dataclass
class RaySettings:
    address: str | None = None
    num_cpus: int | None = None
    object_store_mb: int = DEFAULT_OBJECT_STORE_MB


def ensure_ray(settings: RaySettings | None = None) -> bool:
    """Join `address` / RAY_ADDRESS if given, else start a local Ray with a modest object store.

    True if this call connected (the caller then owns the shutdown)."""
    import ray

    if ray.is_initialized():
        return False
    settings = settings or RaySettings()
    address = settings.address or os.environ.get("RAY_ADDRESS")
    # Worker log lines reach the terminal only with --verbose; they stay in the session logs.
    log_to_driver = os.environ.get("SEGCAP_VERBOSE") == "1"
    if address:
        ray.init(address=address, log_to_driver=log_to_driver)
    else:
        # address="local": a local run starts its own Ray. ray.init() without an address would
        # join whatever cluster `ray start` left on this machine (another job's, maybe no GPU).
        ray.init(address="local", num_cpus=settings.num_cpus, include_dashboard=False,
                 log_to_driver=log_to_driver,
                 object_store_memory=settings.object_store_mb * 1024 * 1024)
    # sys.stderr.write, not print: a flow with log_prints would turn a print into a log record
    sys.stderr.write(f"ray: {describe_ray(address)}\n")
    sys.stderr.flush()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # our own per-stage progress reports instead
    context.print_on_execution_start = False
    return True


def local_session_dir() -> Path | None:
    """The session folder of the local Ray this process started (None when joining a cluster)."""
    try:
        from ray._private import worker

        node = worker._global_node
        return Path(node.get_session_dir_path()) if node is not None and node.head else None
    except (ImportError, AttributeError):
        return None


def shutdown_ray(remove_session: bool) -> None:
    """Shut down the Ray this process started and delete its session folder (logs, sockets,
    spilled objects): a run must not leave one /tmp/ray/session_* behind per run."""
    import ray

    session = local_session_dir() if remove_session else None
    ray.shutdown()
    if session is not None and session.is_dir():
        shutil.rmtree(session, ignore_errors=True)
        latest = session.parent / "session_latest"
        if latest.is_symlink() and not latest.exists():
            latest.unlink(missing_ok=True)


def describe_ray(address: str | None) -> str:
    """Which Ray this process uses and what it sees, for the run's output."""
    import ray

    total = ray.cluster_resources()
    where = (f"joined the cluster at {address} ({ray.get_runtime_context().gcs_address})"
             if address else "started a local Ray")
    return (f"{where}: {len(ray.nodes())} node(s), {total.get('CPU', 0):g} CPUs, "
            f"{total.get('GPU', 0):g} GPUs, object store {total.get('object_store_memory', 0) / 2**30:.1f} GiB")


def check_gpus(step_id: str, num_gpus: float) -> None:
    """Refuse a GPU step on a Ray that has too few GPUs, instead of waiting forever."""
    import ray

    have = ray.cluster_resources().get("GPU", 0)
    if num_gpus and num_gpus > have:
        raise RuntimeError(f"step {step_id} needs {num_gpus:g} GPU(s) per worker but this Ray has "
                           f"{have:g}; join a GPU cluster (--ray-address / RAY_ADDRESS) or set the "
                           "step's resources.num_gpus to 0")


def _unit_rows(batch: pa.Table) -> list[WorkUnit]:
    return [WorkUnit(**row) for row in batch.to_pylist()]


def _results(results: list[dict]) -> pa.Table:
    return pa.table({
        "unit_id": [r["unit_id"] for r in results],
        "rows_in": [r["rows_in"] for r in results],
        "result_json": [json.dumps(r) for r in results],
    })


def _process_units(batch: pa.Table, stage: Stage, dataset_path: str, step_id: str,
                   attempt: str, setup_each: bool) -> pa.Table:
    """Task body for CPU stages; `attempt` keys the per-worker set-up cache to this execution."""
    cache_key = (dataset_path, f"{step_id}:{attempt}")
    if cache_key not in _SET_UP:
        stage.dataset_path = dataset_path
        stage.step_id = step_id
        if not setup_each:
            with pinned_created_at(StepState(DatasetDir(dataset_path), step_id).created_at()):
                stage.setup()
        _SET_UP[cache_key] = stage
    stage = _SET_UP[cache_key]
    dataset = DatasetDir(dataset_path)
    return _results([run_unit(stage, dataset, step_id, u, setup_each).as_json()
                     for u in _unit_rows(batch)])


class _UnitActor:
    """Actor body for model stages: `setup` (the model load) once per actor."""

    def __init__(self, stage: Stage, dataset_path: str, step_id: str):
        self.stage, self.step_id = stage, step_id
        self.dataset = DatasetDir(dataset_path)
        stage.dataset_path = dataset_path
        stage.step_id = step_id
        with pinned_created_at(StepState(self.dataset, step_id).created_at()):
            stage.setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        return _results([run_unit(self.stage, self.dataset, self.step_id, u).as_json()
                         for u in _unit_rows(batch)])


class RayExecutor:
    """Executes pending units with Ray Data `map_batches`, one unit per call."""

    def __init__(self, settings: RaySettings | None = None):
        self.settings = settings or RaySettings()
        self.started_ray = False

    def close(self) -> None:
        """Shut down the Ray this executor started (never one it joined or found running)."""
        if self.started_ray:
            self.started_ray = False
            shutdown_ray(remove_session=not (self.settings.address or os.environ.get("RAY_ADDRESS")))

    def run(self, stage, dataset, step_id, units, on_result, setup_each=False) -> None:
        if not units:
            return
        import ray

        if ensure_ray(self.settings):
            self.started_ray = True
            on_hard_exit(lambda: shutdown_ray(remove_session=False))
        resources = stage.resources
        check_gpus(step_id, resources.num_gpus)
        items = ray.data.from_items([asdict(u) for u in units], override_num_blocks=len(units))
        common = dict(batch_size=1, batch_format="pyarrow", num_cpus=resources.num_cpus,
                      num_gpus=resources.num_gpus or None)
        if stage.calls_model(stage.settings):  # the model loads once per actor
            mapped = items.map_batches(
                _UnitActor, compute=ray.data.ActorPoolStrategy(size=max(1, resources.concurrency)),
                fn_constructor_kwargs={"stage": stage, "dataset_path": str(dataset.path),
                                       "step_id": step_id}, **common)
        else:
            mapped = items.map_batches(
                _process_units, compute=ray.data.TaskPoolStrategy(size=max(1, resources.concurrency)),
                fn_kwargs={"stage": stage, "dataset_path": str(dataset.path), "step_id": step_id,
                           "attempt": uuid.uuid4().hex, "setup_each": setup_each}, **common)
        # Checked between results: a stop signal ends the driver's wait; the workers' uncommitted
        # units leave only shards that no marker lists, deleted when the step runs again.
        for row in mapped.iter_rows():
            check_stop()
            on_result(json.loads(row["result_json"]))
