"""The `mine` stage: images -> mask forests (superpixel / sam) or existing gt segments -> pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from PIL import Image

from annotators.images import ImageError, decode_image
from annotators.masks.forest import MaskForest
from annotators.masks.gt import HierarchyError, from_segment_rows
from annotators.masks.mining import mine_pairs
from pipelines.dataset_dir import DatasetDir
from pipelines.stage import Resources, Stage, StageOutput
from schemas.masks import MaskError, decode_many, encode_stack
from schemas.options.masks import MineOptions

IMAGE_COLUMNS = ["image_id", "image", "file_name", "width", "height"]
SEGMENT_COLUMNS = ["segment_id", "image_id", "parent_id", "level", "mask", "category",
                   "mask_source", "track_id"]


class MineStage(Stage):
    name = "mine"
    options_model = MineOptions
    input_config = "images"
    outputs = ("segments", "granularity_pairs")
    primary_output = "granularity_pairs"

    def __init__(self, batch_size: int = 8, resources: Resources | None = None, **options):
        super().__init__(batch_size, resources, **options)
        self.uses_model = self.settings.source in ("sam", "sam2")
        self.source = None

    def setup(self) -> None:
        if self.settings.source == "superpixel":
            from annotators.masks.superpixel import SuperpixelSource

            self.source = SuperpixelSource(self.settings.superpixel)
        elif self.settings.source == "sam":
            from annotators.masks.sam import SamSource

            self.source = SamSource(self.settings.sam)
            self.source.load()
        elif self.settings.source == "sam2":
            from annotators.masks.sam2 import Sam2Source

            self.source = Sam2Source(self.settings.sam)
            self.source.load()

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows = batch.select([c for c in IMAGE_COLUMNS if c in batch.column_names]).to_pylist()
        segments = self._gt_segments([r["image_id"] for r in rows]) if self.settings.source == "gt" else {}
        for row in rows:
            ref = f"{row['image_id']} ({row.get('file_name')})"
            try:
                forest = self._forest(row, segments.get(row["image_id"], []), output.counters)
            except (ImageError, MaskError, HierarchyError) as exc:
                output.reject(self.name, ref, exc.reason, str(exc))
                continue
            output.counters.update({f"dropped_{k}": v for k, v in forest.drops.items()})
            result = mine_pairs(forest, row["image_id"], definition=self.settings.granularity,
                                points=self.settings.points, seed=self.settings.seed,
                                min_area=self.settings.min_area, iou_merge=self.settings.iou_merge,
                                max_path=self.settings.max_path)
            output.counters.update({f"dropped_{k}": v for k, v in result.drops.items()})
            if not result.forest.nodes:
                output.reject(self.name, ref, "no_masks",
                              f"no mask of at least {self.settings.min_area} px survived")
                continue
            if self.settings.source != "gt":
                output.add_rows("segments", result.forest.segment_rows(row["image_id"]))
            output.add_rows("granularity_pairs", result.pairs)
        return output

    def _forest(self, row: dict, segment_rows: list[dict], counters: Counter) -> MaskForest:
        if self.settings.source == "gt":
            if not segment_rows:
                raise HierarchyError("no_gt_segments", "the image has no gt rows in `segments`")
            return from_segment_rows(segment_rows, row["height"], row["width"])
        data = (row.get("image") or {}).get("bytes")
        if data is None:
            raise ImageError("missing_image", "the images row has no embedded bytes")
        pixels = decode_image(data, self.settings.decode_max_pixels).pixels
        height, width = pixels.shape[:2]
        if height * width < self.settings.min_area:
            raise ImageError("image_too_small", f"{width}x{height} is below the minimum mask area "
                             f"of {self.settings.min_area} px")
        if not np.ptp(pixels.reshape(-1, 3), axis=0).any():
            raise ImageError("uniform_image", "every pixel has the same colour: nothing to segment")
        if height * width <= self.settings.max_pixels:
            return self.source.build(pixels)
        if self.settings.over_budget == "reject":
            raise ImageError("over_pixel_budget",
                             f"{width}x{height} exceeds the mining budget of {self.settings.max_pixels} px")
        counters["downscaled_images"] += 1
        scale = (self.settings.max_pixels / (height * width)) ** 0.5
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        small = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
        return upscale_forest(self.source.build(small), height, width)

    def _gt_segments(self, image_ids: list[str]) -> dict[str, list[dict]]:
        """Only this batch's gt segments, read with a pushed-down filter (never the whole config)."""
        paths = DatasetDir(self.dataset_path).shard_paths("segments") if self.dataset_path else []
        grouped: dict[str, list[dict]] = {}
        if not paths:
            return grouped
        table = ds.dataset([str(p) for p in paths], format="parquet").to_table(
            columns=SEGMENT_COLUMNS,
            filter=pc.field("image_id").isin(image_ids) & (pc.field("mask_source") == "gt"),
        )
        for segment in table.to_pylist():
            grouped.setdefault(segment["image_id"], []).append(segment)
        return grouped


def upscale_forest(forest: MaskForest, height: int, width: int) -> MaskForest:
    """A forest computed on a downscaled image, with every mask scaled back to the image size."""
    scaled = MaskForest(height, width, drops=forest.drops)
    if not forest.nodes:
        return scaled
    small = decode_many([n.rle for n in forest.nodes])
    rows = np.minimum(np.arange(height) * small.shape[1] // height, small.shape[1] - 1)
    cols = np.minimum(np.arange(width) * small.shape[2] // width, small.shape[2] - 1)
    for node, rle in zip(forest.nodes, encode_stack(small[:, rows[:, None], cols[None, :]]), strict=True):
        scaled.add(rle, node.parent, node.source, score=node.score, category=node.category)
    return scaled
