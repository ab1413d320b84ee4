"""The one engine: every step, recipe or single-stage command, runs here, locally or on Ray.

`execute_step` takes the dataset directory's writer lock, plans the step's units, deletes
whatever a killed run left uncommitted, verifies the committed units (markers and the
checksums of their shards), hands the rest to an executor (in this process, or Ray Data tasks
/ actor pools), then aggregates the unit markers into stats.json. Both executors commit through
`pipelines.engine.units.run_unit`, so a unit written by either is the same files.

`run_single_stage` is how a command like `segcap describe DIR` runs: the same engine, as step
`stage.default_step_id()` (the stage name; ingest: one per source), keyed on the stage's options and a fingerprint of its inputs, so an interrupted
command resumes, and a command asked again after it finished recomputes.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from pipelines.engine import previous
from pipelines.engine.lock import writer_lock
from pipelines.engine.progress import progress_bar
from pipelines.engine.runner import StageStats
from pipelines.engine.stage import Stage, StepResultError
from pipelines.engine.stopping import check_stop
from pipelines.engine.units import (
    DEFAULT_UNIT_ROWS,
    WorkUnit,
    output_dirs,
    plan_units,
    run_unit,
)
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState
from schemas.provenance import pinned_created_at

OnResult = Callable[[dict], None]
EXECUTOR_ENV = "SEGCAP_EXECUTOR"  # "ray" runs single-stage commands on Ray Data


class Executor(Protocol):
    def run(self, stage: Stage, dataset: DatasetDir, step_id: str, units: list[WorkUnit],
            on_result: OnResult, setup_each: bool = False) -> None: ...


class LocalExecutor:
    """Runs units one after the other in this process; `setup` once per step, `teardown` after."""

    def run(self, stage, dataset, step_id, units, on_result, setup_each=False) -> None:
        if not units:
            return
        try:
            if not setup_each:
                with pinned_created_at(StepState(dataset, step_id).created_at()):
                    stage.setup()
            for unit in units:
                check_stop()
                on_result(run_unit(stage, dataset, step_id, unit, setup_each).as_json())
        finally:
            stage.teardown()


def invalidate_changed(dataset: DatasetDir, steps: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """Wipe the first step whose recorded key differs from `steps` (id, key, outputs), and
    every step after it: later steps were computed from its output (a replacing step even
    holds it in its before/ folder), so they cannot be kept when it is redone.

    Later steps are wiped first so that replacing steps put back, in reverse order, the
    versions they replaced. Returns the ids wiped.
    """
    states = [(StepState(dataset, step_id), key, outputs) for step_id, key, outputs in steps]
    changed = [i for i, (state, key, _) in enumerate(states)
               if state.root.exists() and state.key() != key]
    wiped = []
    with writer_lock(dataset.path):
        for state, _, outputs in reversed(states[changed[0]:] if changed else []):
            if state.root.exists():
                state.invalidate(outputs)
                wiped.append(state.step_id)
    return wiped


def execute_step(stage: Stage, dataset: DatasetDir, *, executor: Executor | None = None,
                 step_id: str | None = None, key: str | None = None,
                 inputs: Iterable[pa.Table] | None = None, unit_rows: int = DEFAULT_UNIT_ROWS,
                 progress: bool = True, setup_each: bool = False) -> StageStats:
    """Run `stage` as step `step_id` of a run, resuming whatever a killed run left."""
    with writer_lock(dataset.path):
        return _execute_locked(stage, dataset, executor, step_id or stage.step_id, key, inputs,
                               unit_rows, progress, setup_each)


def _execute_locked(stage, dataset, executor, step_id, key, inputs, unit_rows, progress,
                    setup_each) -> StageStats:
    started = time.monotonic()
    stage.step_id = step_id
    state = StepState(dataset, step_id)
    dataset.mark_incomplete()
    state.adopt_key(key or stage.config_fingerprint(), stage.outputs)
    if "created_at" in stage.options:  # a reader's provenance time: pinned per step
        stage.options["created_at"] = state.created_at()
    finished = state.finished()
    if finished is not None:
        bad = {u: p for u in state.unit_ids() if (p := state.unit_problems(u))}
        if not bad:
            if step_id not in _recorded_stages(dataset):  # stats.json lost or rebuilt
                dataset.record_stage(step_id, finished)
            return _stats_from(step_id, finished, skipped=True)
        _report_repairs(step_id, bad)
        state.reopen()

    stage.dataset_path = str(dataset.path)
    units = plan_units(_input_paths(stage, dataset, state, inputs), unit_rows)
    planned = {u.unit_id for u in units}
    state.forget_units(planned)
    dirs = output_dirs(stage, dataset, state, fresh=True)
    state.record_output_dirs(dirs)
    state.discard_uncommitted(dirs, planned)
    problems = {u.unit_id: state.unit_problems(u.unit_id) for u in units}
    pending = [u for u in units if problems[u.unit_id]]
    repaired = {u: p for u, p in problems.items() if p and p != ["no marker"]}
    if repaired:
        _report_repairs(step_id, repaired)
    total = sum(u.rows for u in units)
    with progress_bar(step_id, total, enabled=progress) as bar:
        bar.advance(total - sum(u.rows for u in pending))
        (executor or LocalExecutor()).run(stage, dataset, step_id, pending,
                                           lambda result: bar.advance(result["rows_in"]),
                                           setup_each)
    check_stop()
    stats = _aggregate(step_id, state, planned)
    stats.seconds = time.monotonic() - started
    stats.extra = {"units": len(units), "units_resumed": len(units) - len(pending),
                   "units_repaired": len(repaired)}
    _check_result(stage, step_id, stats, dataset)
    if stage.replaces_input and stage.input_config:
        state.swap_in(stage.input_config)
    dataset.record_stage(step_id, stats.as_json())
    state.mark_finished(stats.as_json())
    return stats


def _recorded_stages(dataset: DatasetDir) -> dict:
    try:
        return dataset.stats().get("stages", {})
    except ValueError:
        return {}


def _report_repairs(step_id: str, problems: dict[str, list[str]]) -> None:
    """Committed units whose files fail their check are redone; say which and why."""
    lines = [line for unit_problems in problems.values() for line in unit_problems]
    shown = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    print(f"note: {step_id}: redoing {len(problems)} committed unit(s) whose files fail their "
          f"check: {shown}", file=sys.stderr)


def _input_paths(stage: Stage, dataset: DatasetDir, state: StepState,
                 inputs: Iterable[pa.Table] | None) -> list[Path]:
    if inputs is not None:
        return state.spool_inputs(inputs)
    if stage.input_config is None:
        raise ValueError(f"stage {stage.name} needs explicit inputs")
    # Resumed or repaired, a step reads the input version it was planned on, even if a later
    # replacing step has swapped a new version in since (it keeps the old one in its before/).
    recorded = state.recorded_inputs(stage.input_config)
    if recorded is not None:
        return recorded
    if stage.replaces_input and state.before_dir(stage.input_config).exists():
        paths = sorted(state.before_dir(stage.input_config).glob("*.parquet"))  # swapped already
    else:
        paths = dataset.shard_paths(stage.input_config)
    state.record_inputs(stage.input_config, paths)
    return paths


def _aggregate(step_id: str, state: StepState, planned: set[str]) -> StageStats:
    """Sum the unit markers: the stats of a resumed run equal those of an uninterrupted one."""
    stats = StageStats(step_id)
    outputs: Counter = Counter()
    for unit_id in sorted(planned):
        record = state.unit_record(unit_id)
        stats.rows_in += record["rows_in"]
        stats.rows_out += record["rows_out"]
        stats.rejected.update(record["rejected"])
        outputs.update(record["outputs"])
        stats.counters.update(record.get("counters", {}))
    stats.outputs = dict(outputs)
    return stats


def _stats_from(step_id: str, record: dict, skipped: bool) -> StageStats:
    stats = StageStats(step_id, rows_in=record["rows_in"], rows_out=record["rows_out"],
                       rejected=Counter(record["rejected"]), seconds=0.0,
                       outputs=dict(record["outputs"]),
                       counters=Counter(record.get("counters", {})))
    stats.extra = {"skipped": skipped}
    return stats


# ---- single-stage commands -------------------------------------------------------------------
def _check_result(stage: Stage, step_id: str, stats: StageStats, dataset: DatasetDir) -> None:
    """A step whose result is not what was asked (e.g. too many template fallbacks) fails here,
    before it is swapped in or marked finished, so no later run takes it for done."""
    problem = getattr(stage, "result_problem", None)
    message = problem(stats.counters) if problem is not None else None
    if message:
        dataset.record_stage(step_id, {**stats.as_json(), "failed": message})
        raise StepResultError(message)


def run_single_stage(stage: Stage, dataset: DatasetDir, inputs: Iterable[pa.Table] | None = None,
                     *, progress: bool = True, finalize: bool = True,
                     executor: Executor | None = None,
                     unit_rows: int = DEFAULT_UNIT_ROWS) -> StageStats:
    """Run one stage as step `stage.step_id` (its default): resumes an interrupted run of the same command on
    the same inputs; asked again after it finished, recomputes (replacing its own output)."""
    with writer_lock(dataset.path):
        tables = list(inputs) if inputs is not None else None
        key = single_stage_key(stage, dataset, tables)
        state = StepState(dataset, stage.step_id)
        replaced = stage.input_config if stage.replaces_input else None
        if state.finished() is not None and replaced and _superseded(state, replaced):
            # A later step (e.g. select after score) replaced this step's version since: the
            # command now rewrites the current version, as a new step; the old state goes.
            state.forget()
        elif state.finished() is not None:
            # Asked again: recompute, but keep the previous output until the new one is done.
            previous.set_aside(state, stage.outputs, replaced)
        executor = executor or executor_from_env()
        try:
            stats = execute_step(stage, dataset, executor=executor, key=key, inputs=tables,
                                 unit_rows=unit_rows, progress=progress,
                                 setup_each=stage.input_config is None)
        except Exception:
            previous.restore(state, stage.outputs, replaced)
            raise
        finally:
            close = getattr(executor, "close", None)
            if close is not None:
                close()
        previous.discard(dataset, stage.step_id)
        if finalize:
            dataset.finalize()
        return stats


def _superseded(state: StepState, config: str) -> bool:
    where = state.committed_dir(config)
    return where is not None and where.resolve() != state.dataset.config_dir(config).resolve()


def executor_from_env() -> Executor:
    if os.environ.get(EXECUTOR_ENV, "local").lower() == "ray":
        from pipelines.engine.ray_exec import RayExecutor

        return RayExecutor()
    return LocalExecutor()


def single_stage_key(stage: Stage, dataset: DatasetDir, tables: list[pa.Table] | None) -> str:
    """The stage's options plus what it reads: the explicit input tables' content, or the
    names, sizes and times of every shard of the configs it does not write."""
    digest = hashlib.sha256(stage.config_fingerprint().encode())
    if tables is not None:
        for table in tables:
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            digest.update(hashlib.sha256(sink.getvalue()).digest())
        return "single-" + digest.hexdigest()[:24]
    state = StepState(dataset, stage.step_id)
    written = set(stage.outputs) | {"rejects"}
    for config in dataset.configs():
        if config in written and not (stage.replaces_input and config == stage.input_config):
            continue
        paths = dataset.shard_paths(config)
        if stage.replaces_input and config == stage.input_config \
                and state.before_dir(config).exists():
            paths = sorted(state.before_dir(config).glob("*.parquet"))
        for path in paths:
            info = path.stat()
            digest.update(f"{config}/{path.name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return "single-" + digest.hexdigest()[:24]
