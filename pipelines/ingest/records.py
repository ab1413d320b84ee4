"""Listing for the per-record JSON formats (mgsc, grandf, llava): records grouped by image.

`--source` is a JSON file holding a list of records (or an object whose values are records, or
whose `annotations`/`data` key holds the list), or a folder of such `.json` files. Records of
one image form one work item, so each image is read and written once.

A file that is a JSON list (LLaVA pools: ~1 GB) is streamed record by record and the records
are grouped per image in a temporary SQLite file (jsonfiles.GroupedSpill), so memory does not
grow with the file; other layouts are read whole under the size limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipelines.ingest.base import IngestError, ItemResult, error_item
from pipelines.ingest.jsonfiles import (
    GroupedSpill,
    check_depth,
    check_size,
    load_json,
    stream_items,
)
from schemas.errors import SegcapError
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason


def _records_of(data, path: Path) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("annotations", "data", "records"):
            if isinstance(data.get(key), list):
                return data[key]
        if "file_name" in data or "image" in data or "conversations" in data:
            return [data]
        return list(data.values())
    raise IngestError(f"{path}: expected a list of records, got {type(data).__name__}")


def iter_records(source: Path, max_mb: float) -> Iterator[tuple[str, object]]:
    paths = sorted(source.rglob("*.json")) if source.is_dir() else [source]
    if not paths:
        raise IngestError(f"no .json files under {source}")
    for path in paths:
        if _first_byte(path) == b"[":
            check_size(path, float("inf"))  # streamed: no size limit
            check_depth(path)
            records = stream_items(path, "item")
        else:
            records = iter(_records_of(load_json(path, max_mb), path))
        for index, record in enumerate(records):
            yield f"{path.name}[{index}]", record


def _first_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


TEXT_ONLY = "\x00text-only"  # the spill key of records without an image (no file name has NUL)


def grouped_items(options: IngestOptions, image_key: str, *, allow_no_image: bool = False,
                  text_only_chunk: int = 64, id_key: str | None = None) -> Iterator[dict]:
    """Items {"ref", "file_name", "records": [(ref, record), ...]}; malformed records -> error items.

    With `id_key`, a record whose id was already used is a `duplicate_id` error item (the first
    record keeps the id), so ids stay unique in the output.
    """
    spill = GroupedSpill()
    try:
        order: dict[str, None] = {}  # image names in order of first appearance
        first_use: dict[str, str] = {}
        for ref, record in iter_records(options.source, options.max_json_mb):
            if not isinstance(record, dict):
                yield error_item(ref, Reason.BAD_FIELD, record)
                continue
            if id_key is not None and record.get(id_key) is not None:
                record_id = str(record[id_key])
                if record_id in first_use:
                    yield error_item(ref, Reason.DUPLICATE_ID, f"{id_key} {record_id!r} was already used "
                                     f"by {first_use[record_id]}; the first record is kept | {record}")
                    continue
                first_use[record_id] = ref
            name = record.get(image_key)
            if name is None and allow_no_image:
                name = TEXT_ONLY
            elif not isinstance(name, str) or not name:
                yield error_item(ref, Reason.BAD_FIELD, f"`{image_key}` missing or not a string | {record}")
                continue
            try:
                spill.add(name, [ref, record])
            except RecursionError:
                yield error_item(ref, Reason.BAD_FIELD, "nested too deeply to be a record")
                continue
            order.setdefault(name, None)
        spill.finish()
        for name in order:
            if name == TEXT_ONLY:
                continue
            records = spill.group(name)
            yield {"ref": f"{name} ({len(records)} records)", "file_name": name, "records": records}
        chunk: list = []
        for record in spill.iter_group(TEXT_ONLY) if TEXT_ONLY in order else ():
            chunk.append(record)
            if len(chunk) == text_only_chunk:
                yield {"ref": f"text-only records {chunk[0][0]}..", "file_name": None, "records": chunk}
                chunk = []
        if chunk:
            yield {"ref": f"text-only records {chunk[0][0]}..", "file_name": None, "records": chunk}
    finally:
        spill.close()


def emit_grounded_records(records: list, decode_record, result: ItemResult) -> None:
    """Decode each (ref, record) of one image into a segcap sample plus its segments.

    A bad record is rejected with its reason and the others go on; a segment shared by several
    records of the image (e.g. a root under its subtrees) is written once; a record that repeats
    an earlier one (same sample id) is a `duplicate_id` reject. `source_id` is the record's
    position in its file ("file.json[3]").
    """
    written: set[str] = set()
    samples: set[str] = set()
    for ref, record in records:
        try:
            sample, segments = decode_record(record)
        except SegcapError as exc:  # any other exception is a reader bug (see base.py)
            result.reject(ref, exc.reason, f"{exc} | {record}")
            continue
        if sample["sample_id"] in samples:
            result.reject(ref, Reason.DUPLICATE_ID, f"repeats an earlier record of this image | {record}")
            continue
        samples.add(sample["sample_id"])
        sample["source_id"] = ref
        for row in segments:
            if row["segment_id"] not in written:
                written.add(row["segment_id"])
                result.add("segments", row)
        result.add("segcap", sample)
