"""Reading annotation JSON safely: whole files under a size limit, or streamed with bounded memory.

`json.loads` of a 200 MB COCO file holds the text plus ~10x its size in Python objects (2.4 GB
measured), and a deeply nested file ends in a RecursionError that names nothing. So:

- `load_json` (formats read whole: refcoco, records) refuses files over the size
  limit and turns excessive nesting into an `IngestError` naming the file;
- `stream_items` walks one array of a file with ijson (a C streaming parser), one element at a
  time, and `GroupedSpill` keeps elements grouped by a key (COCO annotations by image id) in a
  temporary SQLite file, so memory is bounded by one group, not by the file.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson
import orjson  # 5-10x faster than json for the spill's write-then-read of every annotation

from pipelines.ingest.base import IngestError

MB = 1024 * 1024
# Annotation formats nest a few levels (COCO: 5). A streaming parser's cost grows with the square
# of the depth, so a file nested deeper than this is refused before it is parsed.
MAX_DEPTH = 100
_CHUNK = MB  # numpy temporaries are ~20x the chunk


def check_size(path: Path, max_mb: float) -> None:
    if not path.is_file():
        raise IngestError(f"annotation file {path} does not exist")
    size = path.stat().st_size
    if size > max_mb * MB:
        raise IngestError(f"{path} is {size / MB:.0f} MB, over the {max_mb:g} MB limit for "
                          "annotation files; raise it with --max-json-mb (recipe: max_json_mb)")


def load_json(path: Path, max_mb: float) -> Any:
    check_size(path, max_mb)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise IngestError(f"{path} is nested too deeply to be an annotation file (over Python's "
                          "recursion limit); check that it is the right file") from None


def nesting_depth(path: Path) -> int:
    """The deepest nesting of arrays/objects in a JSON file, in one vectorised pass (C speed).

    Brackets inside strings do not count: escape pairs (backslash-backslash, then
    backslash-quote) are dropped first, then each remaining quote toggles "inside a string".
    """
    import numpy as np

    depth = deepest = 0
    inside = 0  # 1 while the scan is inside a string
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            chunk = carry + chunk
            cut = len(chunk.rstrip(b"\\"))  # trailing backslashes wait for the next chunk
            chunk, carry = chunk[:cut], chunk[cut:]
            data = np.frombuffer(chunk.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
            quotes = np.cumsum(data == 34, dtype=np.int32) + inside
            outside = (quotes & 1) == 0
            step = (((data == 91) | (data == 123)) & outside).astype(np.int32) - (
                ((data == 93) | (data == 125)) & outside).astype(np.int32)
            if len(step):
                levels = np.cumsum(step, dtype=np.int32) + depth
                deepest = max(deepest, int(levels.max()))
                depth = int(levels[-1])
                inside = int(quotes[-1] & 1)
    return deepest


def check_depth(path: Path) -> None:
    depth = nesting_depth(path)
    if depth > MAX_DEPTH:
        raise IngestError(f"{path} is nested {depth} levels deep (annotation files need a few; "
                          f"the limit is {MAX_DEPTH}); check that it is the right file")


def stream_items(path: Path, prefix: str) -> Iterator[Any]:
    """The elements of the array at `prefix` ("images.item"), one at a time."""
    with path.open("rb") as handle:
        try:
            yield from ijson.items(handle, prefix, use_float=True)
        except ijson.JSONError as exc:
            raise IngestError(f"{path} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise IngestError(f"{path} is nested too deeply to be an annotation file") from None


def read_array(path: Path, key: str, *, required: bool) -> list:
    """A small top-level array (categories, images) read whole; a wrong type is an error naming
    the key (an absent key is one only when `required`)."""
    items = list(stream_items(path, f"{key}.item"))
    if not items:
        kind = value_type(path, key)
        if kind not in ("list", None) or (kind is None and required):
            raise IngestError(f"{path}: expected {key} to be a JSON list, got {kind or 'nothing'} "
                              "(a COCO file is a JSON object with images, annotations, categories)")
    return items


def value_type(path: Path, key: str) -> str | None:
    """The JSON type name of a top-level key's value (None: absent). Only used to explain an
    empty stream, so a wrongly shaped file gets a precise message."""
    with path.open("rb") as handle:
        try:
            for prefix, event, _ in ijson.parse(handle):
                if prefix == key and event in ("start_array", "start_map", "string", "number",
                                               "boolean", "null"):
                    return {"start_array": "list", "start_map": "object"}.get(event, event)
        except ijson.JSONError as exc:
            raise IngestError(f"{path} is not valid JSON: {exc}") from exc
    return None


class GroupedSpill:
    """Records grouped by a string key, kept in a temporary SQLite file instead of in memory."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="segcap-ingest-")
        self._db = sqlite3.connect(Path(self._folder.name) / "spill.sqlite")
        self._db.execute("CREATE TABLE records (key TEXT, body BLOB)")
        self._pending: list[tuple[str, str]] = []

    def add(self, key: str, record: Any) -> None:
        """Raises RecursionError for a record too deeply nested to serialise (caller rejects it)."""
        try:
            body = orjson.dumps(record)
        except orjson.JSONEncodeError as exc:  # orjson refuses nesting over 255 levels
            raise RecursionError(str(exc)) from exc
        self._pending.append((key, body))
        if len(self._pending) >= 10_000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO records VALUES (?, ?)", self._pending)
        self._pending = []

    def finish(self) -> None:
        self._flush()
        self._db.execute("CREATE INDEX by_key ON records (key)")
        self._db.commit()

    def group(self, key: str) -> list[Any]:
        return list(self.iter_group(key))

    def iter_group(self, key: str) -> Iterator[Any]:
        rows = self._db.execute("SELECT body FROM records WHERE key = ? ORDER BY rowid", (key,))
        for (body,) in rows:
            yield orjson.loads(body)

    def keys(self) -> Iterator[str]:
        for (key,) in self._db.execute("SELECT DISTINCT key FROM records ORDER BY key"):
            yield key

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()
