"""Options of `segcap ingest` (CLI and recipes build from this one model)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.budgets import DECODE_MAX_PIXELS

IngestFormat = Literal["images", "coco", "coco-panoptic", "refcoco", "mot", "llava", "mgsc", "grandf"]
INGEST_FORMATS: tuple[str, ...] = IngestFormat.__args__



class IngestOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: IngestFormat = Field(description="the source format",
                                 json_schema_extra={"flag": ["--format", "-f"]})
    source: Path = Field(description="annotation file or folder (the image folder for `images`)")
    images: Path | None = Field(
        default=None,
        description="image root that annotation paths resolve inside; default: the source's folder",
    )
    source_name: str | None = Field(default=None, description="`source` column; default: source stem")
    max_pixels: int = Field(default=DECODE_MAX_PIXELS, gt=0, description="decompression-bomb limit")
    embed_images: bool = Field(default=True, description="store image bytes (--no-embed: only "
                               "the path)", json_schema_extra={"flag": "--no-embed"})
    decode_images: bool = Field(
        default=True, description="fully decode each image (catches truncated files), not only probe it"
    )
    panoptic_masks: Path | None = Field(
        default=None, description="coco-panoptic PNG folder; default: the JSON path without suffix"
    )
    batch_size: int = Field(default=16, gt=0, description="work items per batch")
    box_masks: bool = Field(
        default=False,
        description="coco: an annotation with a bbox but no segmentation becomes a box mask "
        "(mask_source 'box'); without it such annotations are rejects `box_only`",
    )
    mot_default_class: str = Field(
        default="person", min_length=1,
        description="mot: the class of boxes whose file has no class column (MOT15, DanceTrack, "
        "SportsMOT)",
    )
    max_json_mb: float = Field(
        default=2048, gt=0,
        description="largest annotation JSON file read (MB); COCO instances are streamed, other "
        "formats are read whole",
    )

    def image_root(self) -> Path:
        if self.images is not None:
            return self.images
        return self.source if self.source.is_dir() else self.source.parent

    def name(self) -> str:
        return self.source_name or self.source.stem or self.format
