"""The dataset directory (the data contract on disk): bounded atomic shards, stats, completion.

A directory is complete only when README.md and schema.json exist; every writer removes them
first and `finalize` writes them last, so an interrupted write never looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.store.faults import crash_point
from schemas.contract import CONFIG_NAMES, SCHEMA_VERSION, arrow_schema, conform, json_schema

DEFAULT_MAX_ROWS = 20_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
COMPLETION_FILES = ("README.md", "schema.json")
STAGING = ".staging"
RUN_STATE = ".segcap-run"  # resume state of recipe runs: one folder per step


class DatasetFileError(ValueError):
    """A file of a dataset directory that cannot be read; the message names it and what to do."""


SHARD_ADVICE = ("rerun the step that wrote it (`segcap run` / the stage command redoes the units "
                "whose shards fail their checksum), or restore the file from a good copy")


def unreadable_shard(path: Path, error: Exception) -> DatasetFileError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DatasetFileError(f"{path} is not a readable Parquet shard ({reason}); {SHARD_ADVICE}")


def read_json_file(path: Path, what_to_do: str):
    """JSON from one of our own bookkeeping files; a bad one is one clear error, no traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DatasetFileError(f"{path} is not valid JSON ({exc}); {what_to_do}") from exc


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class ShardWriter:
    """Streams tables into Parquet shards bounded by rows and bytes; each shard appears atomically.

    Memory is bounded by one incoming table: rows are written as row groups as they arrive.
    """

    def __init__(self, directory: Path, config: str, prefix: str,
                 max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = Path(directory)
        self.config = config
        self.prefix = prefix
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self.shard_rows: list[int] = []  # rows of each sealed shard, for the unit's commit record
        self.rows_written = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._bytes = 0

    def _open(self, schema: pa.Schema) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._tmp = self.directory / f".{self.prefix}-{len(self.paths):05d}.{uuid.uuid4().hex}.tmp"
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        self._schema = schema
        self._rows = self._bytes = 0

    def _seal(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        crash_point("after_shard_write")
        final = self.directory / f"{self.prefix}-{len(self.paths):05d}.parquet"
        os.replace(self._tmp, final)
        crash_point("after_rename")
        self.paths.append(final)
        self.shard_rows.append(self._rows)
        self._writer = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = conform(self.config, table)
        if self._schema is not None and not table.schema.equals(self._schema):
            self._seal()  # a schema change (new extra columns) starts a new shard
        start = 0
        while start < table.num_rows:
            if self._writer is None:
                self._open(table.schema)
            row_bytes = max(1, table.nbytes // max(1, table.num_rows))
            room_rows = self.max_rows - self._rows
            room_by_bytes = max(1, (self.max_bytes - self._bytes) // row_bytes)
            take = min(room_rows, room_by_bytes, table.num_rows - start)
            piece = table.slice(start, take)
            self._writer.write_table(piece)
            self._rows += take
            self._bytes += take * row_bytes
            self.rows_written += take
            start += take
            if self._rows >= self.max_rows or self._bytes >= self.max_bytes:
                self._seal()

    def close(self) -> list[Path]:
        self._seal()
        return self.paths

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._tmp is not None and self._tmp.exists():
            self._tmp.unlink()


def parquet_file(path: Path) -> pq.ParquetFile:
    """Open a shard's footer; a truncated or garbage file is one clear error naming it."""
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable_shard(path, exc) from exc


class DatasetDir:
    """Read and write one dataset directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ---- reading -------------------------------------------------------------------------
    def config_dir(self, config: str) -> Path:
        if config not in CONFIG_NAMES:
            raise KeyError(f"unknown config {config!r}; known: {', '.join(CONFIG_NAMES)}")
        return self.path / config

    def shard_paths(self, config: str) -> list[Path]:
        directory = self.config_dir(config)
        return sorted(directory.glob("*.parquet")) if directory.is_dir() else []

    def has(self, config: str) -> bool:
        return bool(self.shard_paths(config))

    def configs(self) -> list[str]:
        return [c for c in CONFIG_NAMES if self.has(c)]

    def read(self, config: str, columns: list[str] | None = None) -> pa.Table:
        paths = self.shard_paths(config)
        if not paths:
            schema = arrow_schema(config)
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        tables = []
        for path in paths:
            try:
                tables.append(pq.read_table(path, columns=columns))
            except (pa.ArrowException, OSError) as exc:
                raise unreadable_shard(path, exc) from exc
        return pa.concat_tables(tables, promote_options="permissive")

    def count(self, config: str) -> int:
        return sum(parquet_file(p).metadata.num_rows for p in self.shard_paths(config))

    def iter_batches(self, config: str, batch_size: int,
                     columns: list[str] | None = None) -> Iterator[pa.Table]:
        """Stream a config in batches of at most `batch_size` rows (never the whole config)."""
        for path in self.shard_paths(config):
            parquet = parquet_file(path)
            try:
                for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                    yield pa.Table.from_batches([batch])
            except (pa.ArrowException, OSError) as exc:
                raise unreadable_shard(path, exc) from exc

    def is_complete(self) -> bool:
        return all((self.path / name).is_file() for name in COMPLETION_FILES)

    # ---- writing -------------------------------------------------------------------------
    def mark_incomplete(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for name in COMPLETION_FILES:
            (self.path / name).unlink(missing_ok=True)

    def shard_writer(self, config: str, prefix: str, **limits) -> ShardWriter:
        return ShardWriter(self.config_dir(config), config, prefix, **limits)

    def remove_shards(self, config: str, prefix: str) -> None:
        for path in self.config_dir(config).glob(f"{prefix}-*.parquet"):
            path.unlink()

    @contextmanager
    def replacing(self, config: str) -> Iterator[Path]:
        """Write a new version of a config into a staging folder, then swap it in whole."""
        staging = self.path / STAGING / f"{config}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        target = self.config_dir(config)
        trash = self.path / STAGING / f"old-{config}-{uuid.uuid4().hex[:8]}"
        if target.exists():
            os.replace(target, trash)
        os.replace(staging, target)
        shutil.rmtree(trash, ignore_errors=True)

    def step_state_dir(self, step_id: str) -> Path:
        return self.path / RUN_STATE / step_id

    def stats(self) -> dict:
        path = self.path / "stats.json"
        if not path.is_file():
            return {"schema_version": SCHEMA_VERSION, "stages": {}}
        stats = read_json_file(path, "delete it and rerun the run or stage: every step rewrites "
                                     "its entry")
        if not isinstance(stats, dict):
            raise DatasetFileError(f"{path} is not a JSON object; delete it and rerun")
        return stats

    def record_stage(self, stage: str, entry: dict) -> None:
        try:
            stats = self.stats()
        except DatasetFileError as exc:
            # A corrupt stats.json must not block every later run: start it afresh (a recipe
            # run re-records every step, skipped ones included) and say so.
            print(f"note: {exc}; rewriting it", file=sys.stderr)
            stats = {"schema_version": SCHEMA_VERSION, "stages": {}}
        stats.setdefault("stages", {})[stage] = entry
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / "stats.json", json.dumps(stats, indent=2, sort_keys=True))

    def finalize(self, title: str | None = None) -> None:
        """Write schema.json, then README.md: the directory is complete from this moment."""
        from pipelines.store.dataset_card import render_card

        shutil.rmtree(self.path / STAGING, ignore_errors=True)
        present = self.configs()
        schema = {"schema_version": SCHEMA_VERSION, "configs": {c: json_schema(c) for c in present}}
        atomic_write_text(self.path / "schema.json", json.dumps(schema, indent=2))
        counts = {c: self.count(c) for c in present}
        card = render_card(title or self.path.name, counts, self.stats())
        atomic_write_text(self.path / "README.md", card)
