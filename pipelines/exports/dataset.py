"""`segcap export`: a dataset directory -> a publishable one (bounded shards, embedded images).

Streams every config batch by batch through `ShardWriter`, so memory is bounded by one batch,
never by the dataset. The whole output is built in a hidden temporary sibling of OUT and renamed
into place only after README.md and schema.json are written: a crash at any point leaves either
no OUT or the previous complete one, never a complete-looking partial one.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.engine.runner import StageStats
from pipelines.exports.verdicts import drop_failed as drop_failed_rows
from pipelines.store.dataset_dir import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, DatasetDir

VERIFIED_CONFIGS = ("segcap", "descriptions")  # the configs `segcap verify` writes verdicts on

# Rows per read batch: images carry their bytes, so fewer at a time.
BATCH_ROWS = {"images": 64}
DEFAULT_BATCH_ROWS = 2048


class ExportError(ValueError):
    """The source cannot be exported (not a dataset, unreadable image path, OUT inside SRC)."""


def embed_image_bytes(table: pa.Table, base: Path) -> tuple[pa.Table, list[dict]]:
    """Fill `image.bytes` from `image.path` where only the path is stored, under the project's
    one rule (pipelines/store/image_source.py). A row whose file cannot be read under it (a path
    outside the dataset directory and the recorded image roots, a missing file) is dropped and
    returned as a reject: it is never embedded."""
    from annotators.images import ImageError
    from pipelines.store.image_source import DatasetImages
    from schemas.rejects import reject_row

    image = table.column("image")
    if pc.sum(pc.is_null(pc.struct_field(image, "bytes"))).as_py() in (0, None):
        return table, []
    try:
        images = DatasetImages(base)
    except ValueError as exc:  # an unreadable roots file: one line naming it
        raise ExportError(str(exc)) from None
    values, keep, rejects = image.to_pylist(), [], []
    for index, (row, value) in enumerate(zip(table.column("image_id").to_pylist(), values, strict=True)):
        if value.get("bytes") is None:
            try:
                value["bytes"] = images.read(value)
            except ImageError as exc:
                rejects.append(reject_row("export", row, exc.reason, str(exc)))
                continue
            value["path"] = Path(value["path"]).name
        keep.append(index)
    index = table.column_names.index("image")
    table = table.set_column(index, "image", pa.array(values, type=image.type))
    if len(keep) < table.num_rows:
        table = table.take(pa.array(keep, type=pa.int64()))
    return table, rejects


def export_dataset(src: str | Path, out: str | Path, *, max_rows_per_shard: int = DEFAULT_MAX_ROWS,
                   max_bytes_per_shard: int = DEFAULT_MAX_BYTES, embed_images: bool = True,
                   title: str | None = None, drop_failed: bool = False) -> StageStats:
    started = time.monotonic()
    source, target = DatasetDir(src), Path(out)
    if not source.path.is_dir() or not source.configs():
        raise ExportError(f"{source.path} is not a dataset directory with any config")
    if target.resolve() == source.path.resolve() or target.resolve().is_relative_to(
            source.path.resolve()):
        raise ExportError(f"--out {target} must not be inside the source {source.path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = DatasetDir(target.parent / f".{target.name}.export-{uuid.uuid4().hex[:8]}")
    stats = StageStats("export")
    refused_rows: list[dict] = []
    try:
        for config in source.configs():
            writer = staging.shard_writer(config, "part", max_rows=max_rows_per_shard,
                                          max_bytes=max_bytes_per_shard)
            try:
                for batch in source.iter_batches(config, BATCH_ROWS.get(config, DEFAULT_BATCH_ROWS)):
                    stats.rows_in += batch.num_rows
                    if config == "images" and embed_images:
                        batch, refused = embed_image_bytes(batch, source.path)
                        refused_rows += refused
                        stats.rejected.update(r["reason"] for r in refused)
                    if drop_failed and config in VERIFIED_CONFIGS:
                        batch, dropped = drop_failed_rows(batch)
                        stats.counters[f"{config}_failed_verification_dropped"] += dropped
                    writer.write(batch)
            except BaseException:
                writer.abort()
                raise
            writer.close()
            stats.outputs[config] = writer.rows_written
        if refused_rows:  # quarantined beside the source's own rejects, never embedded
            from schemas.contract import table_from_rows

            writer = staging.shard_writer("rejects", "export")
            writer.write(table_from_rows("rejects", refused_rows))
            writer.close()
            stats.outputs["rejects"] = stats.outputs.get("rejects", 0) + writer.rows_written
        if not embed_images:  # paths stay paths: the copy may read them under the same roots
            from pipelines.store.image_source import record_image_root, recorded_roots

            for root in recorded_roots(source.path):
                record_image_root(staging.path, root)
        stats.rows_out = sum(stats.outputs.values())
        stats.seconds = time.monotonic() - started
        for name, entry in source.stats().get("stages", {}).items():
            staging.record_stage(name, entry)
        staging.record_stage("export", stats.as_json())
        staging.finalize(title or target.name)
        _swap_into_place(staging.path, target)
    except BaseException:
        shutil.rmtree(staging.path, ignore_errors=True)
        raise
    return stats


def _swap_into_place(staging: Path, target: Path) -> None:
    trash = None
    if target.exists():
        trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, trash)
    os.replace(staging, target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
