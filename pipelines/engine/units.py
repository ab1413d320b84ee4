"""Work units and their commit protocol: the resume logic shared by the local and Ray executors.

A work unit is a deterministic slice of a step's input: one input Parquet file and a row range.
Its outputs are shards named after the step and the unit (`<step>-<unit>-NNNNN.parquet`; the
one naming rule, recipe step or single-stage command alike), so a redone unit overwrites exactly
what it wrote before. A unit is finished only when its marker exists and every shard the marker
lists (name, rows, bytes, sha256) is on disk as committed; the marker is written after every
shard has been renamed into place. A run killed at any moment leaves at most shards that no
marker lists: the step deletes them before anything reads the directory, so a step's own
uncommitted shard is never taken for another step's data.

State lives in `DIR/.segcap-run/<step>/` (`pipelines.store.step_state.StepState`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from pipelines.engine.runner import OutputWriters
from pipelines.engine.stage import Stage
from pipelines.engine.stopping import check_stop
from pipelines.store.commits import shard_record
from pipelines.store.dataset_dir import DatasetDir, parquet_file
from pipelines.store.faults import crash_point
from pipelines.store.step_state import StepState
from schemas.provenance import pinned_created_at

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
        rows = parquet_file(path).metadata.num_rows
        for start in range(0, rows, unit_rows):
            units.append(WorkUnit(f"s{index:05d}-r{start:08d}", str(path), start,
                                  min(rows, start + unit_rows)))
    return units


def read_unit(unit: WorkUnit, batch_size: int) -> Iterator[pa.Table]:
    """Stream the unit's rows in batches of `batch_size`, cut at fixed offsets from its start."""
    offset, pending = 0, []
    pending_rows = 0
    for record_batch in parquet_file(Path(unit.source)).iter_batches(batch_size=batch_size):
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


@dataclass
class UnitResult:
    unit_id: str
    rows_in: int
    rows_out: int
    rejected: dict
    outputs: dict
    counters: dict
    shards: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def discard_partial(output_dirs: dict[str, Path], prefix: str) -> None:
    """Delete whatever an unfinished attempt at a unit left: sealed shards and temp files."""
    for directory in output_dirs.values():
        if directory.is_dir():
            for path in [*directory.glob(f"{prefix}-*.parquet"), *directory.glob(f".{prefix}-*.tmp")]:
                path.unlink(missing_ok=True)


def output_dirs(stage: Stage, dataset: DatasetDir, state: StepState,
                fresh: bool = False) -> dict[str, Path]:
    """Where each output config's shards go: where the step's committed shards of it already
    are (so a redone unit lands beside them, even in a later step's before/), else the config
    folder, or the staging folder for the config a replacing step rewrites. Worked out once
    per step execution (`fresh`) and recorded; each unit reads the record."""
    recorded = None if fresh else state.recorded_output_dirs()
    if recorded is not None:
        return recorded
    dirs = {}
    for config in (*stage.outputs, "rejects"):
        staged = stage.replaces_input and config == stage.input_config
        dirs[config] = state.committed_dir(config) or (
            state.staging_dir(config) if staged else dataset.config_dir(config))
    return dirs


def run_unit(stage: Stage, dataset: DatasetDir, step_id: str, unit: WorkUnit,
             setup_each: bool = False) -> UnitResult:
    """Process one unit and commit it: shards renamed into place first, then the marker.

    `setup_each` re-runs `setup` first, for stages whose setup holds per-run state (a reader's
    seen-image set) that must not leak from one unit into the next, or resumed runs would differ.
    """
    state = StepState(dataset, step_id)
    prefix = f"{step_id}-{unit.unit_id}"
    # What an earlier attempt left goes first: its marker (it failed its check, or it would not
    # be redone), then its shards, before `setup` or anything else reads the directory.
    state.unit_marker(unit.unit_id).unlink(missing_ok=True)
    dirs = output_dirs(stage, dataset, state)
    discard_partial(dirs, prefix)
    stage.step_id = step_id
    with pinned_created_at(state.created_at()):
        if setup_each:
            stage.setup()
        writers = OutputWriters(dataset, prefix, staged=dirs)
        primary = stage.primary_output or (stage.outputs[0] if stage.outputs else None)
        rows_in = rows_out = 0
        rejected: Counter = Counter()
        counters: Counter = Counter()
        try:
            for batch in read_unit(unit, stage.batch_size):
                check_stop()
                output = stage.process(batch)
                writers.write(output)
                rows_in += batch.num_rows
                rows_out += output.rows_out(primary) if primary else 0
                rejected.update(r["reason"] for r in output.rejects)
                counters.update(output.counters)
            outputs = writers.close()
        except BaseException:
            writers.abort()
            # Sealed shards of an unfinished unit must not sit in the dataset looking like data.
            discard_partial(dirs, prefix)
            raise
    shards = [shard_record(config, path, rows)
              for config, writer in writers.writers.items()
              for path, rows in zip(writer.paths, writer.shard_rows, strict=True)]
    result = UnitResult(unit.unit_id, rows_in, rows_out, dict(rejected), outputs,
                        dict(counters), shards)
    crash_point("before_marker")
    state.mark_unit(unit.unit_id, result.as_json())
    crash_point("after_marker")
    return result
