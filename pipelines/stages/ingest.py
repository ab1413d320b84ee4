"""The ingest stage: a reader's work items -> `images`, `segments`, `segcap`, `instructions`.

The readers (`pipelines/ingest/`) know the formats; this stage runs one of them through the
engine. It is the one stage fed explicit inputs (`input_config = None`): `input_batches` lists
the reader's items, so the planner needs no import of the readers. `ingest(...)` /
`ingest_with(...)` run it as a single-stage command does.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.engine.runner import StageStats, run_stage
from pipelines.engine.stage import Stage, StageOutput
from pipelines.ingest.base import (
    RAISE_READER_BUGS_ENV,
    READER_BUGS,
    IngestError,
    ItemResult,
    ReadContext,
)
from pipelines.ingest.registry import reader_for
from pipelines.store.dataset_dir import DatasetDir
from schemas.errors import SegcapError
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

log = logging.getLogger(__name__)


class IngestStage(Stage):
    """Decodes a reader's work items, one batch at a time. Input: a table of (ref, item JSON)."""

    name = "ingest"
    options_model = IngestOptions
    input_config = None
    side_inputs = ("images",)  # images other ingests wrote are not written twice
    outputs = ("images", "segments", "segcap", "instructions")
    default_batch_size = 16
    context: ReadContext | None = None
    other_ingests_images: set[str] | None = None

    @classmethod
    def input_batches(cls, settings: IngestOptions) -> Iterator[pa.Table]:
        """The reader's work items, `batch_size` per table: what the engine feeds `process`."""
        return item_batches(iter(reader_for(settings.format).list_items(settings)),
                            settings.batch_size)

    @property
    def reader(self):
        return reader_for(self.settings.format)

    @property
    def primary_output(self) -> str:  # the reader's main config (images, segcap, ...)
        return self.reader.PRIMARY

    def source_label(self) -> str:
        """`ingest.<format>_<source>`: names the input in rejects."""
        return "ingest." + re.sub(r"[^A-Za-z0-9]+", "_", f"{self.settings.format}.{self.settings.name()}")

    def default_step_id(self) -> str:
        """Shards and stats are keyed by step: one step per (format, source) lets several
        sources be ingested into one directory, and re-ingesting one replace itself."""
        return self.source_label()

    def setup(self) -> None:
        """Runs before every unit of a resumable run (a fresh reader state per unit)."""
        created_at = self.options.get("created_at") or datetime.now(UTC).isoformat(timespec="seconds")
        self.context = ReadContext(self.settings, created_at)
        if not self.settings.embed_images and self.dataset_path is not None:
            from pipelines.store.image_source import record_image_root

            # path-only rows are read later only inside recorded roots (pipelines/store/image_source.py)
            record_image_root(self.dataset_path, self.settings.image_root())
            if self.settings.source.is_dir():  # folder and MOT readers resolve under it
                record_image_root(self.dataset_path, self.settings.source)
        if self.other_ingests_images is None:  # other ingests' shards do not change meanwhile
            self.other_ingests_images = self._existing_image_ids()
        self.context.seen_images.update(self.other_ingests_images)

    def _existing_image_ids(self) -> set[str]:
        """Images other ingests already wrote to this directory are not written twice (our own
        step's shards are being replaced)."""
        if self.dataset_path is None:
            return set()
        table = self.side.read("images", ["image_id"], others_only=True)
        return set(table.column("image_id").to_pylist())

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows: dict[str, list[dict]] = defaultdict(list)
        for ref, text in zip(batch.column("ref").to_pylist(), batch.column("item").to_pylist(),
                             strict=True):
            item = json.loads(text)
            output.counters.update(item.get("counters") or {})
            if "error" in item:
                output.reject(self.source_label(), ref, item["error"], item.get("raw", ""))
                continue
            result = ItemResult()
            try:
                self.reader.decode(item, self.context, result)
            except SegcapError as exc:  # bad input: the item is quarantined, not the run
                self._forget_images(result)
                output.reject(self.source_label(), ref, exc.reason, f"{exc} | {text}")
                continue
            except Exception as exc:
                # Not bad input (readers raise ItemError for that) but a bug in the reader.
                if os.environ.get(RAISE_READER_BUGS_ENV):
                    raise
                log.exception("%s: reader bug on %s", self.name, ref)
                self._forget_images(result)
                output.reject(self.source_label(), ref, Reason.READER_BUG, f"{type(exc).__name__}: {exc} | {text}")
                output.counters[READER_BUGS] += 1
                continue
            for config, new_rows in result.rows.items():
                rows[config].extend(new_rows)
            for item_ref, reason, raw in result.rejects:
                output.reject(self.source_label(), item_ref, reason, raw)
            output.counters.update(result.counters)
        for config, config_rows in rows.items():
            output.add_rows(config, config_rows)
        return output

    def result_problem(self, counters) -> str | None:
        """A reader bug fails the step (non-zero exit) once all items are read: its output is
        not what was asked, whatever the other items gave. Called with the summed counters."""
        bugs = counters.get(READER_BUGS, 0)
        if not bugs:
            return None
        return (f"{self.name}: the {self.settings.format} reader failed on "
                f"{bugs} item(s) with an unexpected error: a bug in the reader, not bad input "
                f"(the `rejects` rows with reason {Reason.READER_BUG} hold each error)")

    def _forget_images(self, result: ItemResult) -> None:
        """A rejected item's images row is dropped, so a later item may write that image."""
        for row in result.rows.get("images", []):
            self.context.seen_images.discard(row["image_id"])


def item_batches(items: Iterator[dict], batch_size: int) -> Iterator[pa.Table]:
    """Work items -> (ref, item JSON) tables of `batch_size` rows, the IngestStage input."""
    refs, texts = [], []
    for item in items:
        refs.append(str(item["ref"]))
        texts.append(json.dumps(item, default=str))
        if len(refs) == batch_size:
            yield pa.table({"ref": refs, "item": texts})
            refs, texts = [], []
    if refs:
        yield pa.table({"ref": refs, "item": texts})


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
