"""Verified commits: what a unit marker records about each shard, and the check of it.

A unit's marker lists every shard the unit wrote: config, file name, rows, bytes and sha256.
`check_shard` compares a file on disk with that record and names what is wrong (missing,
truncated, altered, unreadable). A resume redoes exactly the units whose shards fail the check,
and `segcap validate` reports every failing shard by path.

The sha256 is taken by reading the sealed file back once (Parquet writes footers and row groups
in several passes, so there is no single stream to hash while writing); checks reuse the size
first, so a truncated file is named without hashing it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def shard_record(config: str, path: Path, rows: int) -> dict:
    return {"config": config, "name": path.name, "rows": rows,
            "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def check_shard(record: dict, path: Path | None) -> str | None:
    """None if the file is the one committed; else what is wrong, in a few words."""
    if path is None or not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size < record["bytes"]:
        return f"truncated ({size} of {record['bytes']} bytes)"
    if size != record["bytes"]:
        return f"altered ({size} bytes, committed {record['bytes']})"
    if file_sha256(path) != record["sha256"]:
        return "altered (sha256 differs from its commit record)"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        return f"unreadable ({exc})"
    if rows != record["rows"]:
        return f"altered ({rows} rows, committed {record['rows']})"
    return None
