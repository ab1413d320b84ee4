"""The on-disk resume state of one step of a run: `DIR/.segcap-run/<step>/`.

`key` (the step's config + upstream fingerprint; a different key wipes the step), `created_at`
(the step's provenance time), `units/<unit>.json` (commit markers: counts and each shard's
name, rows, bytes, sha256), `done.json` (the step's stats), `inputs.json` / `outputs.json`
(the input shards it was planned on, the folders it writes), `inputs/` (explicit inputs
spooled to Parquet), `staging/` and `before/` (replacing steps).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.store.commits import check_shard
from pipelines.store.dataset_dir import RUN_STATE, DatasetDir, atomic_write_text
from pipelines.store.faults import crash_point
from schemas.contract import CONFIG_NAMES


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

    def forget(self) -> None:
        """Drop the state only (its shards stay where they are, e.g. in a later step's before/)."""
        shutil.rmtree(self.root, ignore_errors=True)

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
            path, _ = self.locate(shard["config"], shard["name"])
            problem = check_shard(shard, path)
            if problem:
                where = path or self.dataset.config_dir(shard["config"]) / shard["name"]
                problems.append(f"{where}: {problem}")
        return problems

    def discard_uncommitted(self, dirs: dict[str, Path], keep_units: set[str]) -> list[Path]:
        """Delete this step's shards and temp files that no marker of `keep_units` lists.

        Runs before the step reads anything, so a shard a killed run renamed into place but
        never committed cannot be read as another step's (or source's) data.
        """
        listed = set()
        for unit_id in keep_units:
            record = self.unit_record(unit_id) or {}
            listed.update((s["config"], s["name"]) for s in record.get("shards", []))
        pattern = self.shard_pattern()
        removed = []
        for config, where in dirs.items():
            for directory in {where, self.staging_dir(config), self.dataset.config_dir(config)}:
                if not directory.is_dir():
                    continue
                for path in directory.iterdir():
                    if pattern.match(path.name) and (config, path.name) not in listed:
                        path.unlink(missing_ok=True)
                        removed.append(path)
        return removed

    # ---- where the step reads and writes, fixed when it is first planned ------------------
    def committed_dir(self, config: str) -> Path | None:
        """The folder holding this step's committed shards of `config`: the config folder, the
        step's staging folder, or the before/ folder of a later step that replaced the config."""
        for unit_id in self.unit_ids():
            for shard in (self.unit_record(unit_id) or {}).get("shards", []):
                if shard["config"] == config:
                    path, _ = self.locate(config, shard["name"])
                    if path is not None:
                        return path.parent
        return None

    def record_output_dirs(self, dirs: dict[str, Path]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "outputs.json",
                          json.dumps({c: str(d) for c, d in dirs.items()}, sort_keys=True))

    def recorded_output_dirs(self) -> dict[str, Path] | None:
        record = _read_record(self.root / "outputs.json")
        return {c: Path(d) for c, d in record.items()} if record else None

    def record_inputs(self, config: str, paths: list[Path]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "inputs.json",
                          json.dumps({"config": config, "names": [p.name for p in paths]}))

    def recorded_inputs(self, config: str) -> list[Path] | None:
        """The input shards the step was planned on, wherever they are now (a later step may
        have replaced the config and kept them under its before/); None if any is gone."""
        record = _read_record(self.root / "inputs.json")
        if not record or record.get("config") != config:
            return None
        found = []
        for name in record["names"]:
            candidates = [self.before_dir(config) / name, self.dataset.config_dir(config) / name,
                          *(self.dataset.path / RUN_STATE).glob(f"*/before/{config}/{name}")]
            path = next((c for c in candidates if c.is_file()), None)
            if path is None:
                return None
            found.append(path)
        return found

    def shard_pattern(self) -> re.Pattern:
        """This step's shard and temp-file names (`[.]<step>-s<file>-r<offset>-NNNNN.`)."""
        return re.compile(rf"^\.?{re.escape(self.step_id)}-s\d{{5}}-r\d{{8}}-\d{{5}}\.")

    def uncommitted_files(self) -> list[Path]:
        """Files in the config folders named like this step's shards that no marker lists."""
        listed = set()
        for unit_id in self.unit_ids():
            record = self.unit_record(unit_id) or {}
            if "shards" not in record:
                return []  # markers written before commit records: nothing to compare with
            listed.update(s["name"] for s in record["shards"])
        pattern = self.shard_pattern()
        return [path for config in CONFIG_NAMES
                for path in sorted(self.dataset.config_dir(config).glob("*"))
                if pattern.match(path.name) and path.name not in listed]

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


def _read_record(path: Path) -> dict | None:
    """A marker's JSON; a corrupt one counts as absent (its unit or step is redone)."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
