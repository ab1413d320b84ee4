"""Work units and their commit protocol: the resume logic shared by the local and Ray executors.

A work unit is a deterministic slice of a step's input: one input Parquet file and a row range.
Its outputs are shards named after the unit (`<step>-<unit>-NNNNN.parquet`), so a redone unit
overwrites exactly what it wrote before. A unit is finished only when its marker file exists,
and the marker is written after every one of its shards has been renamed into place: a run
killed at any moment leaves at most partial shards of unfinished units, which are deleted
before the unit is redone.

State lives in `DIR/.segcap-run/<step>/`: `key` (the step's config + upstream fingerprint; a
different key wipes the step), `units/<unit>.json` (markers), `done.json` (the step's stats),
`inputs/` (explicit inputs spooled to Parquet), `staging/` and `before/` (replacing steps).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dataset_dir import DatasetDir, atomic_write_text
from pipelines.runner import OutputWriters
from pipelines.stage import Stage

DEFAULT_UNIT_ROWS = 256


@dataclass(frozen=True)
class WorkUnit:
    unit_id: str
    source: str
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def plan_units(paths: Iterable[Path], unit_rows: int) -> list[WorkUnit]:
    """Slice input files into units of at most `unit_rows` rows, named by file index and offset."""
    units = []
    for index, path in enumerate(sorted(Path(p) for p in paths)):
        rows = pq.ParquetFile(path).metadata.num_rows
        for start in range(0, rows, unit_rows):
            units.append(WorkUnit(f"s{index:05d}-r{start:08d}", str(path), start,
                                  min(rows, start + unit_rows)))
    return units


def read_unit(unit: WorkUnit, batch_size: int) -> Iterator[pa.Table]:
    """Stream the unit's rows in batches of `batch_size`, cut at fixed offsets from its start."""
    offset, pending = 0, []
    pending_rows = 0
    for record_batch in pq.ParquetFile(unit.source).iter_batches(batch_size=batch_size):
        lo, hi = offset, offset + record_batch.num_rows
        offset = hi
        if hi <= unit.start:
            continue
        if lo >= unit.stop:
            break
        piece = record_batch.slice(max(0, unit.start - lo), min(hi, unit.stop) - max(lo, unit.start))
        pending.append(piece)
        pending_rows += piece.num_rows
        while pending_rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_size)
            rest = table.slice(batch_size)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


class StepState:
    """The on-disk resume state of one step of a run inside a dataset directory."""

    def __init__(self, dataset: DatasetDir, step_id: str):
        self.dataset = dataset
        self.step_id = step_id
        self.root = dataset.step_state_dir(step_id)

    # ---- key: a changed config invalidates the step --------------------------------------
    def key(self) -> str | None:
        path = self.root / "key"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None

    def adopt_key(self, key: str, outputs: Iterable[str]) -> bool:
        """Keep the state if `key` matches; else wipe the step's outputs and markers. True if kept."""
        if self.key() == key:
            return True
        self.invalidate(outputs)
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "key", key)
        return False

    def invalidate(self, outputs: Iterable[str]) -> None:
        self.restore_before()
        for config in (*outputs, "rejects"):
            self.dataset.remove_shards(config, self.step_id)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- units ---------------------------------------------------------------------------
    def unit_marker(self, unit_id: str) -> Path:
        return self.root / "units" / f"{unit_id}.json"

    def unit_record(self, unit_id: str) -> dict | None:
        path = self.unit_marker(unit_id)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def mark_unit(self, unit_id: str, record: dict) -> None:
        self.unit_marker(unit_id).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.unit_marker(unit_id), json.dumps(record, sort_keys=True))

    # ---- the whole step ------------------------------------------------------------------
    def finished(self) -> dict | None:
        path = self.root / "done.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def mark_finished(self, stats: dict) -> None:
        atomic_write_text(self.root / "done.json", json.dumps(stats, sort_keys=True))

    def commit_token(self) -> str | None:
        """Changes every time the step commits anew; caches key on it so a wiped output reruns."""
        done = self.finished()
        return None if done is None else done.get("token")

    # ---- replacing steps: new version staged, old version kept for invalidation ----------
    def staging_dir(self, config: str) -> Path:
        return self.root / "staging" / config

    def before_dir(self, config: str) -> Path:
        return self.root / "before" / config

    def swap_in(self, config: str) -> None:
        """Move the staged config into place, keeping the previous version under before/.

        Each move is one rename, and a restart finishes a half-done swap: if the target is gone
        the previous version is already under before/.
        """
        target = self.dataset.config_dir(config)
        before = self.before_dir(config)
        staged = self.staging_dir(config)
        if not staged.exists():
            if target.exists() and before.exists():
                return  # a killed run finished the swap already
            staged.mkdir(parents=True)  # no unit wrote a row: the new version is empty
        before.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not before.exists():
            os.replace(target, before)
        elif target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)

    def restore_before(self) -> None:
        """Put back the versions this step replaced (its output is being invalidated)."""
        before_root = self.root / "before"
        if not before_root.is_dir():
            return
        for before in before_root.iterdir():
            target = self.dataset.config_dir(before.name)
            if target.exists():
                shutil.rmtree(target)
            os.replace(before, target)

    # ---- explicit inputs (e.g. a reader's item list) spooled so they can be sliced -------
    def spool_inputs(self, inputs: Iterable[pa.Table]) -> list[Path]:
        directory = self.root / "inputs"
        if (directory / "_complete").is_file():
            return sorted(directory.glob("*.parquet"))
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for index, table in enumerate(inputs):
            tmp = directory / f".part-{index:05d}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, directory / f"part-{index:05d}.parquet")
        (directory / "_complete").write_text("", encoding="utf-8")
        return sorted(directory.glob("*.parquet"))


def new_commit_token() -> str:
    return uuid.uuid4().hex


@dataclass
class UnitResult:
    unit_id: str
    rows_in: int
    rows_out: int
    rejected: dict
    outputs: dict
    counters: dict

    def as_json(self) -> dict:
        return asdict(self)


def discard_partial(output_dirs: dict[str, Path], prefix: str) -> None:
    """Delete whatever an unfinished attempt at a unit left: sealed shards and temp files."""
    for directory in output_dirs.values():
        if directory.is_dir():
            for path in [*directory.glob(f"{prefix}-*.parquet"), *directory.glob(f".{prefix}-*.tmp")]:
                path.unlink(missing_ok=True)


def output_dirs(stage: Stage, dataset: DatasetDir, state: StepState) -> dict[str, Path]:
    staged = staged_outputs(stage, state)
    return {config: staged.get(config, dataset.config_dir(config))
            for config in (*stage.outputs, "rejects")}


def staged_outputs(stage: Stage, state: StepState) -> dict[str, Path]:
    if stage.replaces_input and stage.input_config:
        return {stage.input_config: state.staging_dir(stage.input_config)}
    return {}


def run_unit(stage: Stage, dataset: DatasetDir, step_id: str, unit: WorkUnit,
             setup_each: bool = False) -> UnitResult:
    """Process one unit and commit it: shards renamed into place first, then the marker.

    `setup_each` re-runs `setup` first, for stages whose setup holds per-run state (a reader's
    seen-image set) that must not leak from one unit into the next, or resumed runs would differ.
    """
    if setup_each:
        stage.setup()
    state = StepState(dataset, step_id)
    prefix = f"{step_id}-{unit.unit_id}"
    discard_partial(output_dirs(stage, dataset, state), prefix)
    writers = OutputWriters(dataset, prefix, staged=staged_outputs(stage, state))
    primary = stage.primary_output or (stage.outputs[0] if stage.outputs else None)
    rows_in = rows_out = 0
    rejected: Counter = Counter()
    counters: Counter = Counter()
    try:
        for batch in read_unit(unit, stage.batch_size):
            output = stage.process(batch)
            writers.write(output)
            rows_in += batch.num_rows
            rows_out += output.rows_out(primary) if primary else 0
            rejected.update(r["reason"] for r in output.rejects)
            counters.update(output.counters)
    except BaseException:
        writers.abort()
        raise
    result = UnitResult(unit.unit_id, rows_in, rows_out, dict(rejected), writers.close(),
                        dict(counters))
    state.mark_unit(unit.unit_id, result.as_json())
    return result
