"""The `mine` stage: images -> mask forests (superpixel / sam / unsamv2) or existing gt segments -> pairs."""

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
from annotators.masks.rle_window import RunMask, encode_window
from pipelines.store.dataset_dir import DatasetDir
from pipelines.engine.stage import Resources, Stage, StageOutput
from schemas.masks import MaskError
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
    default_batch_size = 8

    def __init__(self, batch_size: int = 8, resources: Resources | None = None, **options):
        super().__init__(batch_size, resources, **options)
        unsamv2 = self.settings.unsamv2
        self.uses_model = self.settings.source in ("sam", "sam2") or (
            self.settings.source == "unsamv2" and (unsamv2.divide == "sam" or bool(unsamv2.feature_model)))
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
        elif self.settings.source == "unsamv2":
            self.source = self._unsamv2_source()

    def _unsamv2_source(self):
        """UnSAMv2 divide and conquer; its detections come from the superpixel forest, SAM, or
        (divide gt) the image's gt segments, handed to `build` per image."""
        from annotators.masks.unsamv2 import UnsamV2Source

        divide = self.settings.unsamv2.divide
        detections = None
        if divide == "superpixel":
            from annotators.masks.superpixel import SuperpixelSource

            detections = SuperpixelSource(self.settings.superpixel)
        elif divide == "sam":
            from annotators.masks.sam import SamSource

            detections = SamSource(self.settings.sam)
            detections.load()
        source = UnsamV2Source(self.settings.unsamv2, detections)
        source.load()
        return source

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows = batch.select([c for c in IMAGE_COLUMNS if c in batch.column_names]).to_pylist()
        segments = self._gt_segments([r["image_id"] for r in rows]) if self._needs_gt else {}
        for row in rows:
            ref = f"{row['image_id']} ({row.get('file_name')})"
            try:
                forest = self._forest(row, segments.get(row["image_id"], []), output.counters)
            except (ImageError, MaskError, HierarchyError) as exc:
                output.reject(self.name, ref, exc.reason, str(exc))
                continue
            output.counters.update({f"dropped_{k}": v for k, v in forest.drops.items()})
            if self.settings.source == "unsamv2":  # which features the conquer step ran on
                output.counters[f"unsamv2_features_{self.source.features.name}"] += 1
            result = mine_pairs(forest, row["image_id"], definition=self.settings.granularity,
                                points=self.settings.points, seed=self.settings.seed,
                                min_area=self.settings.min_area, iou_merge=self.settings.iou_merge,
                                max_path=self.settings.max_path, clicks=self.settings.clicks)
            output.counters.update({f"dropped_{k}": v for k, v in result.drops.items()})
            output.counters.update({k: v for k, v in result.counts.items() if v})
            if not result.forest.nodes:
                output.reject(self.name, ref, "no_masks",
                              f"no mask of at least {self.settings.min_area} px survived")
                continue
            if self.settings.source != "gt":
                output.add_rows("segments", result.forest.segment_rows(row["image_id"]))
            output.add_rows("granularity_pairs", result.pairs)
        return output

    @property
    def _needs_gt(self) -> bool:
        return self.settings.source == "gt" or (
            self.settings.source == "unsamv2" and self.settings.unsamv2.divide == "gt")

    def _forest(self, row: dict, segment_rows: list[dict], counters: Counter) -> MaskForest:
        gt = None
        if self._needs_gt:
            if not segment_rows:
                raise HierarchyError("no_gt_segments", "the image has no gt rows in `segments`")
            gt = from_segment_rows(segment_rows, row["height"], row["width"])
            if self.settings.source == "gt":
                return gt
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
        over = height * width > self.settings.max_pixels
        if over and (self.settings.over_budget == "reject" or gt is not None):
            raise ImageError("over_pixel_budget",
                             f"{width}x{height} exceeds the mining budget of {self.settings.max_pixels} px"
                             + (" (unsamv2 with gt detections is not mined downscaled)" if gt else ""))
        if gt is not None:
            return self.source.build(pixels, gt)
        return build_forest(self.source, pixels, self.settings.max_pixels, counters)

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


def build_forest(source, pixels: np.ndarray, max_pixels: int, counters: Counter) -> MaskForest:
    """The source's forest of an image; an image over the pixel budget is mined downscaled and
    its masks scaled back up (counted as `downscaled_images`)."""
    height, width = pixels.shape[:2]
    if height * width <= max_pixels:
        return source.build(pixels)
    counters["downscaled_images"] += 1
    scale = (max_pixels / (height * width)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    small = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
    return upscale_forest(source.build(small), height, width)


def upscale_forest(forest: MaskForest, height: int, width: int) -> MaskForest:
    """A forest computed on a downscaled image, with every mask scaled back to the image size
    (nearest neighbour). One mask at a time, and only its box: never a full-size stack."""
    scaled = MaskForest(height, width, drops=forest.drops)
    if not forest.nodes:
        return scaled
    rows = np.minimum(np.arange(height) * forest.height // height, forest.height - 1)
    cols = np.minimum(np.arange(width) * forest.width // width, forest.width - 1)
    for node in forest.nodes:
        x, y, w, h = (int(round(v)) for v in node.bbox)
        small = RunMask(node.rle).window(y, y + h, x, x + w)
        top, bottom = np.searchsorted(rows, [y, y + h])  # rows is sorted: the box's full rows
        left, right = np.searchsorted(cols, [x, x + w])
        window = small[(rows[top:bottom] - y)[:, None], (cols[left:right] - x)[None, :]]
        rle = encode_window(window, height, width, int(top), int(left))
        scaled.add(rle, node.parent, node.source, score=node.score, category=node.category,
                   area=int(window.sum()))
    return scaled
