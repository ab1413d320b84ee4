"""Work units and their commit protocol: the resume logic shared by the local and Ray executors.

A work unit is a deterministic slice of a step's input: one input Parquet file and a row range.
Its outputs are shards named after the step and the unit (`<step>-<unit>-NNNNN.parquet`; the
one naming rule, recipe step or single-stage command alike), so a redone unit overwrites exactly
what it wrote before. A unit is finished only when its marker exists and every shard the marker
lists (name, rows, bytes, sha256) is on disk as committed; the marker is written after every
shard has been renamed into place. A run killed at any moment leaves at most shards that no
marker lists: the step deletes them before anything reads the directory, so a step's own
uncommitted shard is never taken for another step's data.

State lives in `DIR/.segcap-run/<step>/`: `key` (the step's config + upstream fingerprint; a
different key wipes the step), `units/<unit>.json` (markers), `done.json` (the step's stats),
`inputs/` (explicit inputs spooled to Parquet), `staging/` and `before/` (replacing steps).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.commits import check_shard, shard_record
from pipelines.dataset_dir import RUN_STATE, DatasetDir, atomic_write_text, parquet_file
from pipelines.faults import crash_point
from pipelines.runner import OutputWriters
from pipelines.stage import Stage
from pipelines.stopping import check_stop
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


class StepState:
    """The on-disk resume state of one step of a run inside a dataset directory."""

    def __init__(self, dataset: DatasetDir, step_id: str):
        self.dataset = dataset
        self.step_id = step_id
        self.root = dataset.step_state_dir(step_id)

    # ---- key: a changed config invalidates the step --------------------------------------
    def key(self) -> str | None:
        path = self.root / "key"
        try:
            return path.read_text(encoding="utf-8").strip() if path.is_file() else None
        except UnicodeDecodeError:
            return None  # an unreadable key is a changed key: the step is redone, not trusted

    def created_at(self) -> str:
        """The step's provenance time: fixed when the step (re)starts, the same on resume."""
        path = self.root / "created_at"
        value = path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else ""
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:+.-]+", value):
            value = datetime.now(UTC).isoformat(timespec="seconds")
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, value)
        return value

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
        """The marker's record; None if absent or unreadable (the unit is then redone)."""
        return _read_record(self.unit_marker(unit_id))

    def mark_unit(self, unit_id: str, record: dict) -> None:
        self.unit_marker(unit_id).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.unit_marker(unit_id), json.dumps(record, sort_keys=True))

    def unit_ids(self) -> list[str]:
        directory = self.root / "units"
        return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []

    def locate(self, config: str, name: str) -> tuple[Path | None, bool]:
        """Where a committed shard is: (path, superseded). Superseded: a later replacing step
        moved the version holding it aside (into its own before/ folder)."""
        for directory in (self.staging_dir(config), self.dataset.config_dir(config)):
            if (directory / name).is_file():
                return directory / name, False
        for before in (self.dataset.path / RUN_STATE).glob(f"*/before/{config}/{name}"):
            return before, True
        return None, False

    def unit_problems(self, unit_id: str) -> list[str]:
        """Why the unit is not committed as recorded: one line per bad marker or shard."""
        marker = self.unit_marker(unit_id)
        record = self.unit_record(unit_id)
        if record is None:
            return [f"{marker}: missing or not valid JSON"] if marker.exists() else ["no marker"]
        problems = []
        for shard in record.get("shards", []):  # markers written before checksums: not checked
            path, superseded = self.locate(shard["config"], shard["name"])
            if superseded:
                continue
            problem = check_shard(shard, path)
            if problem:
                where = path or self.dataset.config_dir(shard["config"]) / shard["name"]
                problems.append(f"{where}: {problem}")
        return problems

    def discard_uncommitted(self, configs: Iterable[str], keep_units: set[str]) -> list[Path]:
        """Delete this step's shards and temp files that no marker of `keep_units` lists.

        Runs before the step reads anything, so a shard a killed run renamed into place but
        never committed cannot be read as another step's (or source's) data.
        """
        listed = set()
        for unit_id in keep_units:
            record = self.unit_record(unit_id) or {}
            listed.update((s["config"], s["name"]) for s in record.get("shards", []))
        pattern = re.compile(rf"^\.?{re.escape(self.step_id)}-s\d{{5}}-r\d{{8}}-\d{{5}}\.")
        removed = []
        for config in configs:
            for directory in (self.staging_dir(config), self.dataset.config_dir(config)):
                if not directory.is_dir():
                    continue
                for path in directory.iterdir():
                    if pattern.match(path.name) and (config, path.name) not in listed:
                        path.unlink(missing_ok=True)
                        removed.append(path)
        return removed

    def forget_units(self, keep: set[str]) -> None:
        for unit_id in self.unit_ids():
            if unit_id not in keep:
                self.unit_marker(unit_id).unlink(missing_ok=True)

    # ---- the whole step ------------------------------------------------------------------
    def finished(self) -> dict | None:
        return _read_record(self.root / "done.json")

    def reopen(self) -> None:
        """The step is not finished after all (a committed shard failed its check)."""
        (self.root / "done.json").unlink(missing_ok=True)

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
        crash_point("during_swap")
        os.replace(staged, target)

    def unswap(self, config: str) -> None:
        """Take a swapped-in version back to staging, so units can be redone into it."""
        target = self.dataset.config_dir(config)
        if self.before_dir(config).exists() and not self.staging_dir(config).exists() \
                and target.exists():
            self.staging_dir(config).parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, self.staging_dir(config))

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


def _read_record(path: Path) -> dict | None:
    """A marker's JSON; a corrupt one counts as absent (its unit or step is redone)."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


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
    state = StepState(dataset, step_id)
    prefix = f"{step_id}-{unit.unit_id}"
    # What an earlier attempt left goes first: its marker (it failed its check, or it would not
    # be redone), then its shards, before `setup` or anything else reads the directory.
    state.unit_marker(unit.unit_id).unlink(missing_ok=True)
    discard_partial(output_dirs(stage, dataset, state), prefix)
    stage.step_id = step_id
    with pinned_created_at(state.created_at()):
        if setup_each:
            stage.setup()
        writers = OutputWriters(dataset, prefix, staged=staged_outputs(stage, state))
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
            discard_partial(output_dirs(stage, dataset, state), prefix)
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
