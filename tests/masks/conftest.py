"""Shared by the SAM and SAM 2 source tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def permissive():
    """SamOptions for a tiny random-weight model: random weights give junk masks with low
    scores, so the thresholds are open and every step of the source runs."""
    from schemas.options.masks import SamOptions

    def build(model: str, **overrides) -> SamOptions:
        values = {"model": model, "points_per_side": 4, "points_per_batch": 8, "pred_iou_thresh": 0.0,
                  "stability_score_thresh": 0.0, "stability_score_offset": 0.05, "min_region_area": 10,
                  "nms_iou": 0.95}
        values.update(overrides)
        return SamOptions(**values)

    return build
