"""A temporary SQLite side store of everything a card needs, keyed by image id.

The configs are sharded by stage, not by image, so building one card needs rows from every
config. Loading them once into an indexed on-disk SQLite file (stdlib) lets each page fetch its
cards' rows by key while memory stays bounded by one Arrow batch and SQLite's page cache.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import ID_COLUMNS, sqlite_type

BATCH_ROWS = 512

# Each store table: the config it mirrors and its columns. A plain name is that config's contract
# column and takes the contract's type; a (name, type) pair is a value derived for the report.
_TABLES: dict[str, tuple[str, tuple]] = {
    "images": ("images", ("image_id", ("ord", "INTEGER"), "source", "file_name", "video_id",
                          "frame_index")),
    "segments": ("segments", ("image_id", "segment_id", "parent_id", "level", "category", "area",
                              "mask", "track_id", "bbox")),
    "pairs": ("granularity_pairs", ("image_id", "instance_id", "segment_id", ("x", "REAL"),
                                    ("y", "REAL"), "granularity", "granularity_def", "level",
                                    "is_part", "mask", "area")),
    "descriptions": ("descriptions", ("image_id", "scope", "target_id", "short", "detailed",
                                      "video_id")),
    "segcap": ("segcap", ("image_id", "sample_id", "task", "granularity", "subtree", "source",
                          "conversations", "masks", "mask_labels", "segment_ids", "verification")),
    "instructions": ("instructions", ("image_id", "sample_id", "source", "conversations",
                                      ("scores", "TEXT"), "styles", "selected", "selection_method",
                                      "budget", "duplicate_of")),
    "rejects": ("rejects", ("input_ref", "stage", "reason", "raw")),
}
_INDEXES = {"segments": "image_id", "pairs": "image_id", "descriptions": "image_id",
            "images": "video_id",
            "segcap": "image_id", "instructions": "image_id", "rejects": "input_ref"}


def _column_definitions(table: str) -> str:
    """`name TYPE, ...` with contract columns typed by the contract; the image id is the key."""
    config, columns = _TABLES[table]
    definitions = []
    for column in columns:
        name, kind = column if isinstance(column, tuple) else (column, sqlite_type(config, column))
        key = " PRIMARY KEY" if table == "images" and name == ID_COLUMNS["images"] else ""
        definitions.append(f"{name} {kind}{key}")
    return ", ".join(definitions)


def _dump(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _mask(rle: dict | None) -> str | None:
    return None if rle is None else _dump({"size": rle["size"], "counts": rle["counts"]})


def _verdicts(entries: list[dict] | None) -> str | None:
    """`segcap verify` verdicts, per phrase: [verdict, reason] (None: not verified)."""
    return None if entries is None else _dump([[e["verdict"], e["reason"] or ""] for e in entries])


# Each config -> (store table, Parquet columns to read, row -> tuple in the table's column order).
_LOADERS: dict[str, tuple[str, list[str], Callable[[dict], tuple]]] = {
    "segments": ("segments", ["image_id", "segment_id", "parent_id", "level", "category", "area", "mask",
                              "mask_source", "track_id", "bbox"],
                 lambda r: (r["image_id"], r["segment_id"], r["parent_id"], r["level"],
                            r["category"], r["area"], _mask(r["mask"]), r["track_id"],
                            _dump(r["bbox"]) if r["bbox"] is not None else None)),
    "granularity_pairs": (
        "pairs", ["image_id", "instance_id", "segment_id", "point", "granularity",
                  "granularity_def", "level", "is_part", "mask", "area"],
        lambda r: (r["image_id"], r["instance_id"], r["segment_id"],
                   (r["point"] or [0, 0])[0], (r["point"] or [0, 0])[1], r["granularity"],
                   r["granularity_def"], r["level"], int(bool(r["is_part"])), _mask(r["mask"]),
                   r["area"])),
    "descriptions": ("descriptions", ["image_id", "scope", "target_id", "short", "detailed", "video_id"],
                     lambda r: (r["image_id"], r["scope"], r["target_id"], r["short"], r["detailed"],
                                r["video_id"])),
    "segcap": ("segcap", ["image_id", "sample_id", "task", "granularity", "subtree", "source",
                          "conversations", "masks", "mask_labels", "segment_ids", "verification"],
               lambda r: (r["image_id"], r["sample_id"], r["task"], r["granularity"], r["subtree"],
                          r["source"], _dump(r["conversations"] or []),
                          _dump([_mask(m) for m in r["masks"] or []]),
                          _dump(r["mask_labels"] or []), _dump(r["segment_ids"] or []),
                          _verdicts(r.get("verification")))),
    "instructions": ("instructions", ["image_id", "sample_id", "source", "conversations",
                                      "capability_scores", "styles", "selected",
                                      "selection_method", "budget", "duplicate_of"],
                     lambda r: (r["image_id"], r["sample_id"], r["source"],
                                _dump(r["conversations"] or []), _dump(r["capability_scores"] or {}),
                                _dump(r["styles"] or []), int(bool(r["selected"])),
                                r["selection_method"], r["budget"], r["duplicate_of"])),
    "rejects": ("rejects", ["input_ref", "stage", "reason", "raw"],
                lambda r: (r["input_ref"], r["stage"], r["reason"], r["raw"])),
}


class ReportStore:
    """Streams a dataset directory into SQLite; `observe` sees every row once (for aggregates)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.row_factory = sqlite3.Row
        for table in _TABLES:
            self.db.execute(f"CREATE TABLE {table} ({_column_definitions(table)})")

    def close(self) -> None:
        self.db.close()

    def load(self, dataset: DatasetDir, observe: Callable[[str, dict], None]) -> None:
        order = 0
        for batch in dataset.iter_batches("images", BATCH_ROWS,
                                          ["image_id", "source", "file_name", "video_id", "frame_index"]):
            rows = batch.to_pylist()
            self.db.executemany("INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?, ?, ?)",
                                [(r["image_id"], order + i, r["source"], r["file_name"],
                                  r["video_id"], r["frame_index"]) for i, r in enumerate(rows)])
            order += len(rows)
            for row in rows:
                observe("images", row)
        for config, (table, columns, to_tuple) in _LOADERS.items():
            placeholders = ", ".join("?" * len(_TABLES[table][1]))
            # a column added to the contract later (e.g. verification) is read where every shard has it
            present = shared_columns(dataset, config)
            for batch in dataset.iter_batches(config, BATCH_ROWS, [c for c in columns if c in present]):
                rows = batch.to_pylist()
                self.db.executemany(f"INSERT INTO {table} VALUES ({placeholders})",
                                    [to_tuple(r) for r in rows])
                for row in rows:
                    observe(config, row)
        for table, column in _INDEXES.items():
            self.db.execute(f"CREATE INDEX {table}_key ON {table} ({column})")
        self.db.commit()

    # ---- per-card queries ----------------------------------------------------------------
    def rows_for(self, table: str, image_id: str, order: str = "rowid") -> list[sqlite3.Row]:
        return self.db.execute(f"SELECT * FROM {table} WHERE image_id = ? ORDER BY {order}",
                               (image_id,)).fetchall()

    def count_for(self, table: str, image_id: str) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE image_id = ?",
                               (image_id,)).fetchone()[0]

    def rejects_for(self, refs: list[str]) -> list[sqlite3.Row]:
        refs = [r for r in refs if r]
        if not refs:
            return []
        marks = ", ".join("?" * len(refs))
        return self.db.execute(f"SELECT * FROM rejects WHERE input_ref IN ({marks})", refs).fetchall()

    def orphan_instruction_count(self) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM instructions WHERE image_id IS NULL"
            " OR image_id NOT IN (SELECT image_id FROM images)").fetchone()[0]

    def orphan_instructions(self, batch_size: int) -> Iterator[list[sqlite3.Row]]:
        cursor = self.db.execute(
            "SELECT * FROM instructions WHERE image_id IS NULL"
            " OR image_id NOT IN (SELECT image_id FROM images) ORDER BY rowid")
        while rows := cursor.fetchmany(batch_size):
            yield rows

    # ---- videos (MOT): descriptions are keyed by video_id and track id, not by image ----------
    def video_ids(self) -> list[str]:
        """Videos that have frames or descriptions, in order of their first frame."""
        return [r[0] for r in self.db.execute(
            "SELECT video_id FROM (SELECT video_id, MIN(ord) AS o FROM images WHERE video_id IS NOT NULL"
            " GROUP BY video_id UNION SELECT video_id, 1e18 FROM descriptions WHERE video_id IS NOT NULL)"
            " GROUP BY video_id ORDER BY MIN(o), video_id")]

    def video_descriptions(self, video_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM descriptions WHERE video_id = ? ORDER BY rowid",
                               (video_id,)).fetchall()

    def video_frames(self, video_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT image_id, frame_index FROM images WHERE video_id = ?"
                               " ORDER BY frame_index, image_id", (video_id,)).fetchall()

    def track_boxes(self, video_id: str, track_id: str) -> list[sqlite3.Row]:
        """The track's boxes, one per frame, in frame order."""
        return self.db.execute(
            "SELECT s.image_id, s.bbox, s.category, i.frame_index FROM segments s JOIN images i"
            " ON i.image_id = s.image_id WHERE i.video_id = ? AND CAST(s.track_id AS TEXT) = ?"
            " AND s.bbox IS NOT NULL GROUP BY s.image_id ORDER BY i.frame_index",
            (video_id, str(track_id))).fetchall()

    # ---- dataset-level aggregates that need a grouping ----------------------------------------
    def per_image_histogram(self, expression: str, table: str) -> dict[int, int]:
        """How many images have each value of `expression` over their `table` rows (none -> 0)."""
        query = (f"SELECT COALESCE(t.value, 0) AS v, COUNT(*) FROM images i LEFT JOIN "
                 f"(SELECT image_id, {expression} AS value FROM {table} GROUP BY image_id) t "
                 f"ON t.image_id = i.image_id GROUP BY v ORDER BY v")
        return {int(value): count for value, count in self.db.execute(query)}

    def rejects_listed(self, limit: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM rejects ORDER BY rowid LIMIT ?", (limit,)).fetchall()


def shared_columns(dataset: DatasetDir, config: str) -> set[str]:
    """The columns every shard of `config` has."""
    import pyarrow.parquet as pq

    names: set[str] | None = None
    for path in dataset.shard_paths(config):
        shard = set(pq.read_schema(path).names)
        names = shard if names is None else names & shard
    return names or set()
