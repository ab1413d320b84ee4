"""Run one step of a curation run resumably, locally or on Ray, over the same work units.

`execute_step` plans the step's units, skips those with markers, hands the rest to an executor
(in this process, or Ray Data tasks / actor pools), then aggregates the unit markers into
stats.json. Both executors commit through `pipelines.units.run_unit`, so a unit written by
either is the same files.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from pipelines.dataset_dir import DatasetDir
from pipelines.progress import progress_bar
from pipelines.runner import StageStats
from pipelines.stage import Stage
from pipelines.units import (
    DEFAULT_UNIT_ROWS,
    StepState,
    WorkUnit,
    new_commit_token,
    plan_units,
    run_unit,
)

OnResult = Callable[[dict], None]


class Executor(Protocol):
    def run(self, stage: Stage, dataset: DatasetDir, step_id: str, units: list[WorkUnit],
            on_result: OnResult, setup_each: bool = False) -> None: ...


class LocalExecutor:
    """Runs units one after the other in this process; `setup` once per step."""

    def run(self, stage, dataset, step_id, units, on_result, setup_each=False) -> None:
        if not units:
            return
        if not setup_each:
            stage.setup()
        for unit in units:
            on_result(run_unit(stage, dataset, step_id, unit, setup_each).as_json())


def invalidate_changed(dataset: DatasetDir, steps: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """Wipe every step whose recorded key differs from `steps` (id, key, outputs).

    Later steps are wiped first so that replacing steps put back, in reverse order, the
    versions they replaced. Returns the ids wiped.
    """
    wiped = []
    for step_id, key, outputs in reversed(steps):
        state = StepState(dataset, step_id)
        if state.root.exists() and state.key() != key:
            state.invalidate(outputs)
            wiped.append(step_id)
    return wiped


def execute_step(stage: Stage, dataset: DatasetDir, *, executor: Executor | None = None,
                 step_id: str | None = None, key: str | None = None,
                 inputs: Iterable[pa.Table] | None = None, unit_rows: int = DEFAULT_UNIT_ROWS,
                 progress: bool = True, setup_each: bool = False) -> StageStats:
    """Run `stage` as step `step_id` of a run, resuming whatever a killed run left."""
    step_id = step_id or stage.name
    state = StepState(dataset, step_id)
    dataset.mark_incomplete()
    state.adopt_key(key or stage.config_fingerprint(), stage.outputs)
    finished = state.finished()
    if finished is not None:
        return _stats_from(step_id, finished, skipped=True)

    started = time.monotonic()
    stage.dataset_path = str(dataset.path)
    units = plan_units(_input_paths(stage, dataset, state, inputs), unit_rows)
    pending = [u for u in units if state.unit_record(u.unit_id) is None]
    total = sum(u.rows for u in units)
    with progress_bar(step_id, total, enabled=progress) as bar:
        bar.advance(total - sum(u.rows for u in pending))
        (executor or LocalExecutor()).run(stage, dataset, step_id, pending,
                                           lambda result: bar.advance(result["rows_in"]),
                                           setup_each)
    if stage.replaces_input and stage.input_config:
        state.swap_in(stage.input_config)
    stats = _aggregate(step_id, state)
    stats.seconds = time.monotonic() - started
    stats.extra = {"units": len(units), "units_resumed": len(units) - len(pending)}
    dataset.record_stage(step_id, stats.as_json())
    state.mark_finished({**stats.as_json(), "token": new_commit_token()})
    return stats


def _input_paths(stage: Stage, dataset: DatasetDir, state: StepState,
                 inputs: Iterable[pa.Table] | None) -> list[Path]:
    if inputs is not None:
        return state.spool_inputs(inputs)
    if stage.input_config is None:
        raise ValueError(f"stage {stage.name} needs explicit inputs")
    if stage.replaces_input and state.before_dir(stage.input_config).exists():
        # A killed run swapped the new version in already; its units are all committed.
        return sorted(state.before_dir(stage.input_config).glob("*.parquet"))
    return dataset.shard_paths(stage.input_config)


def _aggregate(step_id: str, state: StepState) -> StageStats:
    """Sum the unit markers: the stats of a resumed run equal those of an uninterrupted one."""
    stats = StageStats(step_id)
    outputs: Counter = Counter()
    for marker in sorted((state.root / "units").glob("*.json")):
        record = state.unit_record(marker.stem)
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
