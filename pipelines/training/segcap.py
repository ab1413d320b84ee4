"""The training side: a `torch.utils.data.Dataset` over an export's `segcap` config.

Each item joins a `segcap` row with its `images` row and yields the image, the conversation,
a mask tensor (N, H, W) whose k-th mask belongs to the k-th `[SEG]` of the answer, the phrases
and their labels. Samples are read once (no pixels); images are fetched per item from the
Parquet row group that holds them, with a small cache, so memory never holds the image config.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.exports.verdicts import drop_failed as drop_failed_rows
from pipelines.store.dataset_dir import DatasetDir
from schemas import masks
from schemas.grounding import parse_grounded
from schemas.rows import answer_text

try:  # torch is optional for the rest of the package; this module needs it only when used
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is a declared dependency
    _TorchDataset = object


class ImageStore:
    """Images by id, read per item from the Parquet row group that holds them (small LRU cache).

    The index keeps only (shard, row group, row) per image_id, read from the image_id column, so
    memory never holds the image config.
    """

    def __init__(self, dataset: DatasetDir, image_format: str = "pil"):
        if image_format not in ("pil", "tensor"):
            raise ValueError(f"image_format must be 'pil' or 'tensor', got {image_format!r}")
        self.image_format = image_format
        self._locations = self._index(dataset)
        self._read_group = lru_cache(maxsize=4)(self._read_row_group)
        # Items of one image usually come together (the pairs of an image are stored together):
        # decoding is the cost, so the last decoded images are kept and handed out as copies.
        self._decoded = lru_cache(maxsize=4)(self._decode)

    @staticmethod
    def _index(dataset: DatasetDir) -> dict[str, tuple[Path, int, int]]:
        locations = {}
        for path in dataset.shard_paths("images"):
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                ids = parquet.read_row_group(group, columns=["image_id"]).column(0).to_pylist()
                for row, image_id in enumerate(ids):
                    locations.setdefault(image_id, (path, group, row))
        return locations

    @staticmethod
    def _read_row_group(path: Path, group: int):
        return pq.ParquetFile(path).read_row_group(group, columns=["image"])

    def _decode(self, image_id: str):
        from PIL import Image

        try:
            path, group, row = self._locations[image_id]
        except KeyError:
            raise KeyError(f"image {image_id} is not in the images config") from None
        value = self._read_group(path, group).column("image")[row].as_py()
        if value["bytes"] is None:
            raise ValueError(f"image {image_id} has no embedded bytes (export with embedding on)")
        return Image.open(io.BytesIO(value["bytes"])).convert("RGB")

    def get(self, image_id: str):
        image = self._decoded(image_id).copy()  # a copy: callers may change it in place
        if self.image_format == "pil":
            return image
        import numpy as np
        import torch

        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


def image_size(image) -> tuple[int, int]:
    """(height, width) of a PIL image or a (3, H, W) tensor."""
    return (image.height, image.width) if hasattr(image, "height") else tuple(image.shape[1:])


class SegCapTorchDataset(_TorchDataset):
    """`dataset[i]` -> {"sample_id", "image", "conversations", "masks", "phrases", "mask_labels", ...}.

    image_format: "pil" (PIL.Image, RGB) or "tensor" (uint8 tensor (3, H, W)).
    transform: optional callable applied to the whole item dict.
    """

    def __init__(self, export_dir: str | Path, *, image_format: str = "pil", transform=None,
                 tasks: tuple[str, ...] | None = None, drop_failed: bool = False):
        if image_format not in ("pil", "tensor"):
            raise ValueError(f"image_format must be 'pil' or 'tensor', got {image_format!r}")
        self.dataset = DatasetDir(export_dir)
        for config in ("segcap", "images"):
            if not self.dataset.has(config):
                raise FileNotFoundError(f"{export_dir} has no `{config}` config")
        samples = self.dataset.read("segcap")
        if tasks:
            import pyarrow as pa
            import pyarrow.compute as pc

            samples = samples.filter(pc.is_in(samples.column("task"), value_set=pa.array(list(tasks))))
        self.dropped_failed = 0
        if drop_failed:  # samples a `segcap verify` verdict failed (see pipelines/exports/verdicts.py)
            samples, self.dropped_failed = drop_failed_rows(samples)
        self.samples = samples
        self.image_format, self.transform = image_format, transform
        self._images = ImageStore(self.dataset, image_format)

    def __len__(self) -> int:
        return self.samples.num_rows

    def _image(self, image_id: str):
        return self._images.get(image_id)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if not 0 <= index < len(self):
            raise IndexError(index)
        row = self.samples.slice(index, 1).to_pylist()[0]
        image = self._image(row["image_id"])
        width, height = image.size if self.image_format == "pil" else (image.shape[2], image.shape[1])
        stack = masks.decode_many(row["masks"]) if row["masks"] else None
        mask_tensor = (torch.from_numpy(stack) if stack is not None
                       else torch.zeros((0, height, width), dtype=torch.uint8))
        item = {
            "sample_id": row["sample_id"],
            "image_id": row["image_id"],
            "task": row["task"],
            "granularity": row["granularity"],
            "image": image,
            "conversations": row["conversations"],
            "masks": mask_tensor,
            "phrases": parse_grounded(answer_text(row["conversations"])).phrases,
            "mask_labels": row["mask_labels"],
        }
        return self.transform(item) if self.transform else item


def collate_segcap(items: list[dict]) -> dict[str, list]:
    """Masks differ in count and size per sample, so a batch keeps lists instead of stacking."""
    return {key: [item[key] for item in items] for key in items[0]} if items else {}
