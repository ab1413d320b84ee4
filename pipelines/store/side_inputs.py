"""Reading other configs of the dataset a stage runs on (its side inputs), by column and filter.

A stage whose batches need rows of another config (the images and segments behind a caption)
reads them here, once per batch, filtered to the batch's ids; never the whole config.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from annotators.images import decode_image
from pipelines.store.image_source import DatasetImages

SEGMENT_COLUMNS = ["segment_id", "image_id", "parent_id", "level", "mask", "bbox", "area",
                   "category", "mask_source", "is_crowd", "track_id"]


def read_config(dataset_path: str | Path, config: str, columns: list[str],
                filter_expression=None) -> pa.Table:
    directory = Path(dataset_path) / config
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return pa.table({c: [] for c in columns})
    dataset = ds.dataset(files, format="parquet")
    present = [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=present, filter=filter_expression)


def one_of(column: str, values: list[str]):
    """A filter `column in values`; typed, so an empty list is a filter that matches nothing."""
    return pc.field(column).isin(pa.array(values, type=pa.string()))


def rows_by_image(dataset_path: str | Path, config: str, columns: list[str],
                  image_ids: list[str]) -> dict[str, list[dict]]:
    table = read_config(dataset_path, config, columns, one_of("image_id", image_ids))
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
