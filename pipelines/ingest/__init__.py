"""Readers for the formats of this field; `ingest(...)` runs one through the stage runner."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.engine.runner import StageStats, run_stage
from pipelines.ingest.base import IngestError, IngestStage, item_batches
from pipelines.ingest.registry import reader_for
from pipelines.store.dataset_dir import DatasetDir
from schemas.options.ingest import IngestOptions

__all__ = ["IngestError", "IngestStage", "ingest", "ingest_with"]


def ingest(format: str, source: str | Path, images: str | Path | None, out: str | Path,
           *, progress: bool = True, **options: Any) -> StageStats:
    """Read `source` in `format` into the dataset directory `out` (created if needed)."""
    return ingest_with(IngestOptions(format=format, source=source, images=images, **options), out,
                       progress=progress)


def ingest_with(options: IngestOptions, out: str | Path, *, progress: bool = True) -> StageStats:
    if not options.source.exists():
        raise IngestError(f"source {options.source} does not exist")
    root = options.image_root()
    if not root.is_dir():
        raise IngestError(f"image root {root} is not a directory")
    reader = reader_for(options.format)
    if getattr(reader, "STREAMED", False):
        # A streaming reader's items are never all in memory; its file-level checks all run
        # before the first item, so pulling one first still fails fast on a bad file.
        stream = reader.list_items(options)
        first = list(itertools.islice(stream, 1))
        items, total = itertools.chain(first, stream), None
    else:
        # Listing first (cheap, annotations only) gives the progress total and fails fast.
        items = list(reader.list_items(options))
        total = len(items)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    stage = IngestStage(**options.model_dump(mode="json"))
    stage.options["created_at"] = created_at
    return run_stage(stage, DatasetDir(out), inputs=item_batches(iter(items), options.batch_size),
                     total=total, progress=progress)
