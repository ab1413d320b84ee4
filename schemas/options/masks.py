"""Options of the mask-hierarchy sources and of the `mine` stage (CLI and recipe build from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.budgets import DECODE_MAX_PIXELS, MINING_MAX_PIXELS


class SuperpixelOptions(BaseModel):
    """The weight-free hierarchy: SLIC superpixels merged greedily into one tree."""

    model_config = ConfigDict(extra="forbid")

    n_segments: int = Field(400, ge=1, description="SLIC superpixels (approximate)")
    compactness: float = Field(10.0, gt=0)
    slic_iterations: int = Field(5, ge=1)
    work_pixels: int = Field(65_536, ge=64, description="superpixels are computed at most at this "
                             "many pixels and their labels scaled back up")
    colour_weight: float = Field(1.0, ge=0, description="weight of Lab mean distance")
    texture_weight: float = Field(0.3, ge=0, description="weight of local-contrast distance")
    position_weight: float = Field(2.0, ge=0, description="weight of centroid distance "
                                   "(image side = 1)")
    size_exponent: float = Field(0.7, ge=0, description="1 = Ward linkage; 0 = plain distance")
    instances: int = Field(8, ge=1, description="regions left at the instance cut of the merge order")
    min_instance_fraction: float = Field(0.005, ge=0, le=1)
    parts_per_level: int = Field(4, ge=2)
    part_levels: int = Field(3, ge=0)
    min_part_area: int = Field(64, ge=1)


class SamOptions(BaseModel):
    """SAM automatic mask generation (transformers SamModel + SamProcessor; these classes are
    built into transformers, so no remote code is ever run)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="SAM / SAM 2 model directory or hub id (source "
                              "sam, sam2; unsamv2 --divide sam)", json_schema_extra={"flag": "--model"})
    device: str = "cpu"
    points_per_side: int = Field(32, ge=1)
    points_per_batch: int = Field(64, ge=1)
    pred_iou_thresh: float = Field(0.88, ge=0, le=1)
    stability_score_thresh: float = Field(0.95, ge=0, le=1)
    stability_score_offset: float = Field(1.0, ge=0)
    mask_threshold: float = 0.0
    nms_iou: float = Field(0.7, gt=0, le=1)
    min_region_area: int = Field(100, ge=0)
    containment: float = Field(0.9, gt=0, le=1, description="child share inside its parent")


class UnsamV2Options(BaseModel):
    """UnSAMv2 divide and conquer (REFERENCE.md section 5); the defaults are the reference's."""

    model_config = ConfigDict(extra="forbid")

    divide: Literal["superpixel", "sam", "gt"] = Field(
        "superpixel", description="unsamv2: where instance proposals come from",
        json_schema_extra={"flag": "--divide"})
    instance_min_share: float = Field(0.05, ge=0, le=1, description="an instance covers more than "
                                      "this share of the image (reference 0.05)")
    feature_model: str | None = Field(None, description="unsamv2: DINO-family model directory or "
                                      "hub id for patch features (colour/texture features without)",
                                      json_schema_extra={"flag": "--feature-model"})
    device: str = "cpu"
    local_size: int = Field(256, ge=16, description="longer side of an instance box, resized")
    patch_size: int = Field(32, ge=4, description="patch side of the colour features (a model "
                            "uses its own); 32 px on the 256 px box measured best on the "
                            "synthetic scenes (bench_unsamv2_source.py)")
    colour_scale: float = Field(10.0, gt=0, description="colour similarity exp(-d^2 / 2 s^2), "
                                "d in Lab units")
    thresholds: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5)
    min_cluster: int = Field(4, ge=1, description="patches of the smallest conquer mask")
    keep_inside: float = Field(0.9, ge=0, le=1, description="a mask is kept when more than this "
                               "share lies inside its instance")
    nms_iou: float = Field(0.8, gt=0, le=1)
    nms_window: int = Field(4, ge=1, description="each mask is compared with the next N by area")
    min_score: float = Field(0.3, ge=0, le=1, description="SAM detections at or below are dropped")
    refine: Literal["superpixel", "none"] = Field(
        "superpixel", description="snap conquer masks to superpixels (stands in for the "
        "reference's CascadePSP refinement); none: keep the resized patch masks")


class MineOptions(BaseModel):
    """`segcap mine`: hierarchy source, granularity definition and pair sampling."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["superpixel", "gt", "sam", "sam2", "unsamv2"] = Field(  # sam2 reads `sam` options
        "superpixel", description="where hierarchies come from: superpixel (no weights), gt "
        "segments, sam, sam2, or unsamv2 divide and conquer")
    granularity: Literal["unsamv2", "graco"] = Field(
        "unsamv2", description="granularity definition of the pairs")
    points: int = Field(3, ge=1, description="clicks per mask (proposal rule) or per instance "
                        "tree (instance_path rule)")
    clicks: Literal["proposal", "instance_path"] = Field(
        "proposal", description="proposal: GraCo's rule, clicks in each mask eroded by a square "
        "kernel (border not eroding); instance_path: clicks in the eroded instance, one pair per "
        "mask on the path holding the click")
    max_path: int = Field(6, ge=1, description="masks emitted per point (root first)")
    min_area: int = Field(64, ge=1, description="masks smaller than this many pixels are dropped")
    iou_merge: float = Field(0.9, gt=0, le=1, description="near-identical masks in a tree merge")
    max_pixels: int = Field(MINING_MAX_PIXELS, ge=1, description="mining pixel budget of one image")
    over_budget: Literal["downscale", "reject"] = Field(
        "downscale", description="an image over --max-pixels: downscale it, or reject it")
    decode_max_pixels: int = Field(DECODE_MAX_PIXELS, ge=1, description="refused before decoding")
    seed: int = Field(0, description="seed of the point sampling")
    superpixel: SuperpixelOptions = Field(default_factory=SuperpixelOptions)
    sam: SamOptions = Field(default_factory=SamOptions)
    unsamv2: UnsamV2Options = Field(default_factory=UnsamV2Options)
