"""Options of `segcap report`: page size and the per-card caps that keep pages small."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.budgets import DECODE_MAX_PIXELS


class ReportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(24, ge=1, le=1000, description="cards per HTML page")
    thumb_max_side: int = Field(384, ge=64, le=4096, description="longest side of a card image, px")
    max_layers: int = Field(48, ge=1, description="mask overlays drawn per card")
    max_points: int = Field(8, ge=0, description="granularity points per card")
    max_samples: int = Field(6, ge=1, description="segcap captions shown per card")
    max_instructions: int = Field(4, ge=1, description="instruction samples shown per card")
    max_rejects_listed: int = Field(100, ge=0, description="reject rows listed on the overview")
    max_image_pixels: int = Field(DECODE_MAX_PIXELS, ge=1, description="refuse larger images (bombs)")
