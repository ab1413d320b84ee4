"""The training side of `granularity_pairs`: a `torch.utils.data.Dataset` for GraCo/UnSAMv2-style
training, (image, point, mask, granularity, level) per item.

Pairs are read once without pixels; images come from the `images` config per item (see
`pipelines.training.segcap.ImageStore`). Crowd segments (`segments.is_crowd` true, COCO's iscrowd) of an
image are never targets; they arrive as `ignore_mask`, the union of the image's crowd regions, so
a loss can skip those pixels as COCO-trained models do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from pipelines.exports.common import has_column
from pipelines.store.dataset_dir import DatasetDir
from pipelines.training.segcap import ImageStore, _TorchDataset, image_size
from schemas import masks

VARIABLE_SIZE = ("image", "mask", "ignore_mask")  # per-image sizes differ: batched as lists


class GranularityPairsTorchDataset(_TorchDataset):
    """`dataset[i]` -> {"pair_id", "image_id", "instance_id", "segment_id", "image", "point",
    "mask", "granularity", "level", "is_part", "granularity_def", "mask_source", "ignore_mask"}.

    point: float32 tensor (2,) = (x, y) in pixels; mask / ignore_mask: uint8 tensors (H, W);
    granularity: float32 scalar tensor in [0.1, 1]; level: int64 scalar tensor.
    definition: keep only pairs of this granularity definition ("unsamv2" or "graco"); a
    directory that mixes both would otherwise hand a trainer two incompatible scales.
    """

    def __init__(self, export_dir: str | Path, *, image_format: str = "pil", transform=None,
                 definition: str | None = None):
        self.dataset = DatasetDir(export_dir)
        for config in ("granularity_pairs", "images"):
            if not self.dataset.has(config):
                raise FileNotFoundError(f"{export_dir} has no `{config}` config")
        self._images = ImageStore(self.dataset, image_format)
        pairs = self.dataset.read("granularity_pairs")
        definitions = set(pairs.column("granularity_def").unique().to_pylist())
        if definition is not None:
            pairs = pairs.filter(pc.equal(pairs.column("granularity_def"), definition))
        elif len(definitions) > 1:
            raise ValueError(f"{export_dir} mixes granularity definitions {sorted(definitions)}; "
                             "pass definition= to pick one")
        self.pairs, self.transform = pairs, transform
        self.crowd = self._crowd_masks()

    def _crowd_masks(self) -> dict[str, list[dict]]:
        if not has_column(self.dataset, "segments", "is_crowd"):
            return {}
        segments = self.dataset.read("segments", ["image_id", "mask", "is_crowd"])
        crowd = segments.filter(pc.fill_null(segments.column("is_crowd"), False))
        grouped: dict[str, list[dict]] = {}
        for image_id, rle in zip(crowd.column("image_id").to_pylist(), crowd.column("mask").to_pylist(),
                                 strict=True):
            grouped.setdefault(image_id, []).append(rle)
        return grouped

    def __len__(self) -> int:
        return self.pairs.num_rows

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if not 0 <= index < len(self):
            raise IndexError(index)
        row = self.pairs.slice(index, 1).to_pylist()[0]
        image = self._images.get(row["image_id"])
        height, width = image_size(image)
        crowd = self.crowd.get(row["image_id"])
        # numpy, not torch.zeros: torch's threaded fill costs milliseconds on a busy CPU
        ignore = torch.from_numpy(masks.decode_many(crowd).max(axis=0) if crowd
                                  else np.zeros((height, width), dtype=np.uint8))
        item = {
            "pair_id": row["pair_id"], "image_id": row["image_id"], "instance_id": row["instance_id"],
            "segment_id": row["segment_id"], "image": image,
            "point": torch.tensor(row["point"], dtype=torch.float32),
            "mask": torch.from_numpy(masks.decode(row["mask"])),
            "granularity": torch.tensor(row["granularity"], dtype=torch.float32),
            "level": torch.tensor(row["level"], dtype=torch.int64),
            "is_part": bool(row["is_part"]), "granularity_def": row["granularity_def"],
            "mask_source": row["mask_source"], "ignore_mask": ignore,
        }
        return self.transform(item) if self.transform else item


def collate_granularity_pairs(items: list[dict]) -> dict[str, Any]:
    """Points (B, 2), granularity (B,), level (B,) and is_part (B,) stacked; images, masks and
    ignore masks as lists, since images differ in size (resize in `transform` to stack them)."""
    import torch

    if not items:
        return {}
    batch = {key: [item[key] for item in items] for key in items[0]}  # VARIABLE_SIZE stay lists
    for key in ("point", "granularity", "level"):
        batch[key] = torch.stack(batch[key])
    batch["is_part"] = torch.tensor(batch["is_part"], dtype=torch.bool)
    return batch

