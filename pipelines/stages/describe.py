"""The describe stage: scene/instance/track descriptions and grounded SegCap captions.

Input: `images` batches. Still images are described in the batch they arrive in. A video is
described once, when its first frame arrives (the plan made in `setup` names that frame), by a
video-level pass that reads the frames and boxes it needs from the dataset directory. So the
result does not depend on how frames fall into batches, and `process` stays pure per batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotators.backends import make_backend
from annotators.backends.base import take_counters
from annotators.backends.cache import CachedBackend, GenerationCache
from annotators.backends.shortfall import shortfall_problem
from annotators.describe.describer import ImageDescriber, ImageItem
from annotators.describe.video import VideoDescriber, plan_video
from annotators.images import ImageError, decode_image
from pipelines.store.image_source import DatasetImages
from pipelines.store.side_inputs import read_config, rows_by_image
from pipelines.engine.stage import Stage, StageOutput
from schemas.options.language import DescribeOptions

SEGMENT_COLUMNS = ["segment_id", "image_id", "parent_id", "level", "mask", "bbox", "area",
                   "category", "track_id", "mask_source", "is_crowd"]


class DescribeStage(Stage):
    name = "describe"
    options_model = DescribeOptions
    input_config = "images"
    outputs = ("descriptions", "segcap")
    primary_output = "descriptions"
    uses_model = True
    default_batch_size = 16

    def __init__(self, batch_size: int = 16, resources=None, **options):
        super().__init__(batch_size, resources, **options)

    def setup(self) -> None:
        s = self.settings
        backend = make_backend(s.backend, model=s.model, base_url=s.base_url, **s.backend_options())
        if s.use_cache and s.backend != "template":  # template answers cost nothing to redo
            path = s.cache_path or str(Path(self.dataset_path or ".") / ".cache" / "describe.sqlite")
            backend = CachedBackend(backend, GenerationCache(path))
        self.backend = backend
        fallback = s.on_failure == "fallback"
        self.images = ImageDescriber(backend, max_retries=s.max_retries, fallback=fallback,
                                     max_instances=s.max_instances, max_subtrees=s.max_subtrees,
                                     tasks=tuple(s.tasks), mask_source=s.mask_source)
        self.videos = VideoDescriber(backend, max_retries=s.max_retries, fallback=fallback)
        self.image_source = DatasetImages(self.dataset_path or ".")
        self._plan_videos()

    def _plan_videos(self) -> None:
        """Which frame opens each video, and every video's frame list (small columns only)."""
        self.video_frames: dict[str, list[tuple[str, int]]] = {}
        self.video_anchor: dict[str, str] = {}
        frames = self._read("images", ["image_id", "video_id", "frame_index"],
                            pc.field("video_id").is_valid())
        for row in frames.to_pylist():
            self.video_frames.setdefault(row["video_id"], []).append(
                (row["image_id"], row["frame_index"] if row["frame_index"] is not None else 0))
        for video_id, members in self.video_frames.items():
            self.video_anchor[video_id] = min(members, key=lambda f: (f[1], f[0]))[0]

    # ---- reading from the dataset directory ---------------------------------------------
    def _read(self, config: str, columns: list[str], filter_expression) -> pa.Table:
        return read_config(self.dataset_path or ".", config, columns, filter_expression)

    def _segments(self, image_ids: list[str]) -> dict[str, list[dict]]:
        return rows_by_image(self.dataset_path or ".", "segments", SEGMENT_COLUMNS, image_ids)

    def _pixels(self, row: dict) -> np.ndarray:
        image = row["image"] or {}
        if image.get("bytes") is None and not image.get("path"):
            image = {"bytes": None, "path": row.get("file_name")}
        # the one resolver: inside the dataset directory or a recorded image root, else a reject
        return decode_image(self.image_source.read(image)).pixels

    # ---- one batch --------------------------------------------------------------------
    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows = batch.to_pylist()
        stills = [r for r in rows if r.get("video_id") is None]
        anchors = [r for r in rows if r.get("video_id") is not None
                   and self.video_anchor.get(r["video_id"]) == r["image_id"]]
        if stills:
            self._describe_stills(stills, output)
        if anchors:
            self._describe_videos([r["video_id"] for r in anchors], output)
        hits = getattr(self.backend, "hits", None)
        if hits is not None:
            output.counters["cache_hits"] = self.backend.hits
            output.counters["cache_misses"] = self.backend.misses
            self.backend.hits = self.backend.misses = 0
        # answers by source and failed attempts by kind: stats.json shows every fallback
        output.counters.update(take_counters(self.backend))
        return output

    def result_problem(self, counters) -> str | None:
        """Why the finished step is not what was asked (too many fallbacks), else None.
        Called with the step's summed counters once all its units are done."""
        if self.settings.backend == "template":
            return None
        return shortfall_problem(self.name, counters, self.settings.max_fallback_share)

    def _describe_stills(self, rows: list[dict], output: StageOutput) -> None:
        segments = self._segments([r["image_id"] for r in rows])
        items = []
        for row in rows:
            try:
                pixels = self._pixels(row)
            except ImageError as exc:
                output.reject(self.name, row["image_id"], exc.reason, str(exc))
                continue
            items.append(ImageItem(row["image_id"], pixels, segments.get(row["image_id"], []),
                                   row.get("source") or ""))
        self._collect(self.images.describe(items), output)

    def _describe_videos(self, video_ids: list[str], output: StageOutput) -> None:
        plans, frames = [], {}
        for video_id in video_ids:
            members = self.video_frames[video_id]
            index = dict(members)
            segments = [dict(s, frame_index=index[s["image_id"]])
                        for group in self._segments(list(index)).values() for s in group]
            sizes = self._read("images", ["image_id", "width", "height"],
                               pc.field("image_id").isin(list(index))).to_pylist()
            width, height = (sizes[0]["width"], sizes[0]["height"]) if sizes else (0, 0)
            plan = plan_video(video_id, width, height, members, segments,
                              self.settings.track_samples)
            # only the planned frames are read and decoded, never the whole video
            wanted = self._read("images", ["image_id", "image", "file_name"],
                                pc.field("image_id").isin(sorted(plan.needed_images())))
            try:
                for row in wanted.to_pylist():
                    frames[row["image_id"]] = self._pixels(row)
            except ImageError as exc:
                output.reject(self.name, f"video:{video_id}", exc.reason, str(exc))
                continue
            plans.append(plan)
        self._collect(self.videos.describe(plans, frames), output)

    def _collect(self, result, output: StageOutput) -> None:
        output.counters.update(getattr(result, "counters", None) or {})
        output.add_rows("descriptions", result.descriptions)
        output.add_rows("segcap", result.segcap)
        for ref, reason, raw in result.rejects:
            output.reject(self.name, ref, reason, raw)
