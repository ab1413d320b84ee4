"""The sam2 source end to end with a tiny random-weight SAM 2 saved and loaded like a user's model."""

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from annotators.masks.evaluation import nesting_violations
from annotators.masks.sam2 import Sam2Source
from annotators.model_loading import ModelLoadError
from annotators.synthetic import generate_scene


@pytest.fixture(scope="module")
def tiny_sam2(tmp_path_factory):
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    backbone = Sam2HieraDetConfig(
        hidden_size=16, image_size=[128, 128], blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[16, 32, 64, 128], num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[4, 4, 4, 4], global_attention_blocks=[3],  # not a stage start
        window_positional_embedding_background_size=[2, 2])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[128, 64, 32, 16],
                              backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]], fpn_hidden_size=32)
    config = Sam2Config(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=32, image_size=128, patch_size=16,
                                                      mask_input_channels=4),
        mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2,
                                                  num_attention_heads=2, iou_head_hidden_dim=32))
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-sam2")
    Sam2Model(config).save_pretrained(directory)
    # What Sam2Processor.save_pretrained writes (it cannot run here: it imports torchvision)
    (directory / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Sam2ImageProcessor", "processor_class": "Sam2Processor",
        "size": {"height": 128, "width": 128}, "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "rescale_factor": 1 / 255}))
    return str(directory)


def test_sam2_forest_is_nested_and_decodable(tiny_sam2, permissive):
    pixels = generate_scene(2, size=(72, 96)).pixels
    forest = Sam2Source(permissive(tiny_sam2)).build(pixels)
    assert forest.nodes
    assert nesting_violations(forest, threshold=0.9) == []
    for node in forest.nodes:
        mask = coco_mask.decode(node.rle)
        assert mask.shape == (72, 96) and int(mask.sum()) == node.area >= 10
        assert node.source == "sam2"
    filtered = sum(v for k, v in forest.drops.items() if k != "sam_parent_unconfirmed")
    assert len(forest.nodes) + filtered == 48


def test_sam2_every_candidate_passes_at_16x16_points(tiny_sam2, permissive):
    pixels = generate_scene(3, size=(64, 80)).pixels
    forest = Sam2Source(permissive(tiny_sam2, points_per_side=16, points_per_batch=64,
                                   min_region_area=0, nms_iou=1.0)).build(pixels)
    drops = forest.drops
    assert drops["sam_pred_iou"] == drops["sam_stability"] == drops["sam_nms"] == 0
    assert len(forest.nodes) + drops["sam_min_area"] == 16 * 16 * 3
    assert nesting_violations(forest, threshold=0.9) == []


def test_sam2_strict_filter_and_wrong_model_kind(tiny_sam2, tmp_path, permissive):
    pixels = generate_scene(2, size=(72, 96)).pixels
    strict = Sam2Source(permissive(tiny_sam2, pred_iou_thresh=1.0)).build(pixels)
    assert strict.nodes == [] and strict.drops["sam_pred_iou"] == 48
    wrong = tmp_path / "not-sam2"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({"model_type": "sam"}))
    with pytest.raises(ModelLoadError, match="not a sam2"):
        Sam2Source(permissive(str(wrong))).load()


def test_sam2_preprocessing_matches_the_processor_settings(tiny_sam2, permissive):
    """Resize to the saved size, rescale, normalise: a flat grey image maps to one known value."""
    source = Sam2Source(permissive(tiny_sam2))
    source.load()
    grey = np.full((50, 70, 3), 128, dtype=np.uint8)
    values = source.processor(grey, "cpu")
    assert values.shape == (1, 3, 128, 128)
    expected = (128 / 255 - 0.485) / 0.229
    assert torch.allclose(values[0, 0], torch.full((128, 128), expected), atol=1e-4)


def test_mine_stage_with_sam2(tiny_sam2, scene_dataset, permissive):
    from pipelines.engine.runner import run_stage
    from pipelines.stages.mine import MineStage

    dataset = scene_dataset(2, size=(72, 96))
    stage = MineStage(source="sam2", points=2, min_area=10, sam=permissive(tiny_sam2).model_dump())
    stats = run_stage(stage, dataset, progress=False)
    segments = dataset.read("segments").to_pylist()
    assert stats.rows_out > 0 and {s["mask_source"] for s in segments} == {"sam2"}
