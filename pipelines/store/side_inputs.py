"""Reading other configs of the dataset a stage runs on (its side inputs), by column and filter.

A stage whose batches need rows of another config (the images and segments behind a caption)
declares that config in `side_inputs` and reads it only through `Stage.side`, a `SideInputs`
over the dataset directory the engine runs it on: once per batch, filtered to the batch's
ids, never the whole config unless it plans over the whole config in `setup` (select, dedup).
Reading a config the stage did not declare is an error, so the declaration stays true.

The functions below are the reads themselves, also used by tools that are not stages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from annotators.images import decode_image
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.image_source import DatasetImages

SEGMENT_COLUMNS = ["segment_id", "image_id", "parent_id", "level", "mask", "bbox", "area",
                   "category", "mask_source", "is_crowd", "track_id"]


def read_config(dataset_path: str | Path, config: str, columns: list[str] | Mapping,
                filter_expression=None) -> pa.Table:
    """One pushed-down scan of a config's shards: the columns (names, or a mapping of computed
    columns) of the rows matching the filter. Missing named columns are left out."""
    files = sorted((Path(dataset_path) / config).glob("*.parquet"))
    if not files:
        return pa.table({c: [] for c in columns})
    return _scan(files, columns, filter_expression)


def _scan(files: list[Path], columns, filter_expression) -> pa.Table:
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    if not isinstance(columns, Mapping):
        columns = [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=columns, filter=filter_expression)


def one_of(column: str, values: list[str]):
    """A filter `column in values`; typed, so an empty list is a filter that matches nothing."""
    return pc.field(column).isin(pa.array(values, type=pa.string()))


def rows_by_image(dataset_path: str | Path, config: str, columns: list[str],
                  image_ids: list[str]) -> dict[str, list[dict]]:
    return _group_by_image(read_config(dataset_path, config, columns, one_of("image_id", image_ids)))


def _group_by_image(table: pa.Table) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        grouped.setdefault(row["image_id"], []).append(row)
    return grouped


def image_pixels(row: dict, images: DatasetImages) -> np.ndarray:
    """The RGB pixels of an `images` row, read under the project's one rule (`DatasetImages`:
    inside the dataset directory or a recorded image root, else an ImageError reject)."""
    image = row.get("image") or {}
    if image.get("bytes") is None and not image.get("path"):
        image = {"bytes": None, "path": row.get("file_name")}
    return decode_image(images.read(image)).pixels


class SideInputs:
    """A stage's read-only view of the configs it declared, in one dataset directory.

    `step_id` is the step the stage runs as: `read(..., others_only=True)` leaves out the
    shards that step itself wrote (a re-run step is replacing them).
    """

    def __init__(self, dataset_path: str | Path, declared: tuple[str, ...], step_id: str):
        self.dataset = DatasetDir(dataset_path)
        self.path = self.dataset.path
        self.declared = declared
        self.step_id = step_id

    def _shards(self, config: str, others_only: bool = False) -> list[Path]:
        if config not in self.declared:
            raise LookupError(f"step {self.step_id} reads {config!r} but its stage does not "
                              f"declare it in `side_inputs` ({', '.join(self.declared) or 'none'})")
        paths = self.dataset.shard_paths(config)
        if others_only:
            paths = [p for p in paths if not p.name.startswith(f"{self.step_id}-")]
        return paths

    def read(self, config: str, columns: list[str] | Mapping | None = None, filter=None,
             *, others_only: bool = False) -> pa.Table:
        """Rows of `config`. With a filter or computed columns: one pushed-down scan (named
        columns missing from the shards are left out). Without: the whole config shard by shard,
        so shards that carry different extra columns still concatenate (a plan over the config)."""
        paths = self._shards(config, others_only)
        if filter is not None or isinstance(columns, Mapping):
            return _scan(paths, columns, filter) if paths else pa.table({c: [] for c in columns})
        if not others_only:
            return self.dataset.read(config, columns)
        tables = [pq.read_table(p, columns=columns) for p in paths]
        return (pa.concat_tables(tables, promote_options="permissive") if tables
                else pa.table({c: [] for c in columns or []}))

    def rows_by_image(self, config: str, columns: list[str], image_ids: list[str]) -> dict[str, list[dict]]:
        """The rows of `config` for these images, grouped by image_id (one filtered read)."""
        return _group_by_image(self.read(config, columns, one_of("image_id", image_ids)))

    def batches(self, config: str, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The whole config streamed in batches (never all in memory)."""
        self._shards(config)
        return self.dataset.iter_batches(config, batch_size, columns)

    def has(self, config: str) -> bool:
        return bool(self._shards(config))

    def column_names(self, config: str) -> set[str]:
        """Every column any shard of `config` has."""
        return set().union(*(pq.read_schema(p).names for p in self._shards(config)))

    def images(self) -> DatasetImages:
        """The one image resolver of this directory (embedded bytes, or a path inside the
        directory or a recorded image root)."""
        return DatasetImages(self.path)
