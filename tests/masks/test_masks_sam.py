"""The sam source end to end with a tiny random-weight SAM saved and loaded like a user's model."""

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotators.masks.evaluation import nesting_violations
from annotators.masks.sam import SamSource, grid_points
from annotators.synthetic import generate_scene
from schemas import masks as codec
from schemas.options.masks import SamOptions


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    from annotators.backends.tiny_model import build_tiny_sam

    return str(build_tiny_sam(tmp_path_factory.mktemp("tiny-sam")))


def test_grid_points_cover_the_image():
    points = grid_points(100, 200, 4)
    assert points.shape == (16, 2)
    assert points[:, 0].min() == 25 and points[:, 0].max() == 175
    assert points[:, 1].min() == 12.5 and points[:, 1].max() == 87.5


def test_sam_forest_is_nested_and_decodable(tiny_sam, permissive):
    pixels = generate_scene(2, size=(72, 96)).pixels
    forest = SamSource(permissive(tiny_sam)).build(pixels)
    assert forest.nodes, "the permissive tiny model must produce masks"
    assert nesting_violations(forest, threshold=0.9) == []
    for node in forest.nodes:
        mask = coco_mask.decode(node.rle)
        assert mask.shape == (72, 96)
        assert int(mask.sum()) == node.area >= 10
        assert node.source == "sam" and node.score is not None
    # 16 points x 3 masks: whatever is not in the forest was counted by the filter that took it
    assert len(forest.nodes) + sum(forest.drops.values()) == 48


def test_sam_filters_apply(tiny_sam, permissive):
    pixels = generate_scene(2, size=(72, 96)).pixels
    strict = SamSource(permissive(tiny_sam, pred_iou_thresh=1.0)).build(pixels)
    assert strict.nodes == [] and strict.drops["sam_pred_iou"] == 48
    small = SamSource(permissive(tiny_sam, min_region_area=72 * 96 + 1)).build(pixels)
    assert small.nodes == [] and small.drops["sam_min_area"] > 0
    stable = SamSource(permissive(tiny_sam, stability_score_thresh=1.0,
                                  stability_score_offset=50.0)).build(pixels)
    assert stable.drops["sam_stability"] > 0
    loose = SamSource(permissive(tiny_sam, nms_iou=0.3)).build(pixels)
    assert loose.drops["sam_nms"] > 0


def test_sam_needs_a_model():
    with pytest.raises(ValueError, match="needs a model"):
        SamSource(SamOptions())


def test_mine_stage_with_sam_writes_segments_and_pairs(tiny_sam, scene_dataset, permissive):
    from pipelines.engine.runner import run_stage
    from pipelines.stages.mine import MineStage

    dataset = scene_dataset(2, size=(72, 96))
    stage = MineStage(source="sam", points=2, min_area=10,
                      sam=permissive(tiny_sam).model_dump())
    stats = run_stage(stage, dataset, progress=False)
    segments = dataset.read("segments").to_pylist()
    pairs = dataset.read("granularity_pairs").to_pylist()
    assert stats.rows_out == len(pairs) > 0
    assert {s["mask_source"] for s in segments} == {"sam"}
    assert {p["segment_id"] for p in pairs} <= {s["segment_id"] for s in segments}
    assert any(k.startswith("dropped_sam_") for k in dataset.stats()["stages"]["mine"]["counters"])


def test_every_candidate_passes_at_16x16_points(tiny_sam, permissive):
    """Thresholds at 0 and NMS off: all 16 x 16 x 3 candidates reach the forest or the min-area
    count (an empty mask), and the forest is still well nested."""
    pixels = generate_scene(3, size=(72, 96)).pixels
    options = permissive(tiny_sam, points_per_side=16, points_per_batch=64, min_region_area=0,
                         nms_iou=1.0)
    forest = SamSource(options).build(pixels)
    filtered = {k: v for k, v in forest.drops.items() if k != "sam_parent_unconfirmed"}
    assert filtered.get("sam_pred_iou", 0) == filtered.get("sam_stability", 0) == 0
    assert filtered.get("sam_nms", 0) == 0
    assert len(forest.nodes) + filtered.get("sam_min_area", 0) == 16 * 16 * 3
    assert len(forest.nodes) > 16 * 16
    assert nesting_violations(forest, threshold=0.9) == []
    assert all(node.area > 0 and node.score is not None for node in forest.nodes)


def test_sam_source_matches_the_processor_on_one_prompt(tiny_sam, permissive):
    """Our one-time image processing, point scaling and box-restricted up-sampling give the
    same mask as transformers' SamProcessor + post_process_masks for one point prompt."""
    import torch
    from transformers import SamModel, SamProcessor

    from annotators.masks.sam_candidates import Upsampler, crop_rle, mask_boxes

    pixels = generate_scene(4, size=(72, 96)).pixels
    source = SamSource(permissive(tiny_sam))
    source.load()
    embeddings, geometry, to_model = source._embed(pixels)
    point = np.array([[40.0, 30.0]])
    logits, _ = source._decode(embeddings, torch.tensor(to_model(point), dtype=torch.float32))
    processor = SamProcessor.from_pretrained(tiny_sam)
    model = SamModel.from_pretrained(tiny_sam).eval()
    inputs = processor(images=pixels, input_points=[[point.tolist()]], return_tensors="pt")
    with torch.no_grad():
        reference = model(**inputs, multimask_output=True)
    assert torch.allclose(reference.pred_masks[0, 0], logits[0], atol=1e-4)
    full = processor.post_process_masks(reference.pred_masks, inputs["original_sizes"],
                                        inputs["reshaped_input_sizes"])[0][0]  # (3, H, W) bool
    upsampler = Upsampler(geometry, *logits.shape[-2:], "cpu")
    for index in range(3):
        read = logits[0, index, :upsampler.read_h, :upsampler.read_w] > 0
        result = upsampler.mask(logits[0, index], mask_boxes(read[None])[0].numpy(), 0.0)
        expected = codec.encode_array(full[index].numpy(), allow_empty=True)
        if result is None:
            assert coco_mask.area(expected) == 0
            continue
        rle, area = crop_rle(*result, 72, 96)
        assert abs(area - int(coco_mask.area(expected))) <= 2  # float rounding at the threshold
