"""The device-side SAM candidate path: each step against a plain reference that is obviously right."""

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from annotators.masks.evaluation import nesting_violations
from annotators.masks.sam_candidates import (
    Geometry,
    Thresholds,
    Upsampler,
    box_nms,
    crop_rle,
    generate,
    mask_boxes,
    nest_forest,
    stability_scores,
    upsample,
)
from schemas import masks as codec


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """The textbook loop: best first, drop everything overlapping a kept box."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(iou(boxes[i], boxes[k]) <= threshold for k in kept):
            kept.append(int(i))
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_box_nms_equals_greedy_nms(seed):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 80, (300, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(5, 40, (300, 2))], 1)
    scores = rng.permutation(300).astype(np.float32)
    ours = box_nms(torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores), 0.5)
    assert ours.tolist() == greedy_nms(boxes, scores, 0.5)


def test_box_nms_long_suppression_chain_falls_back_exactly():
    # boxes sliding by one pixel: each suppresses the next, a chain as long as the list
    boxes = np.array([[i, 0, i + 10, 10] for i in range(120)], dtype=np.float32)
    scores = np.linspace(1, 0, 120).astype(np.float32)
    ours = box_nms(torch.tensor(boxes), torch.tensor(scores), 0.8, device_sweeps=4)
    assert ours.tolist() == greedy_nms(boxes, scores, 0.8)


def test_stability_and_boxes():
    logits = torch.full((2, 8, 8), -5.0)
    logits[0, 2:6, 1:4] = 5.0   # 12 px, far from both thresholds: stability 1
    logits[0, 2:6, 4] = 0.5      # 4 more px above t - 1 but below t + 1
    stability = stability_scores(logits, 0.0, 1.0)
    assert stability[0] == pytest.approx(12 / 16) and stability[1] == 0
    boxes = mask_boxes(logits > 0)
    assert boxes[0].tolist() == [1, 2, 5, 6] and boxes[1].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("geometry", [
    Geometry(72, 96, (128, 128), (96, 128)),                   # SAM: padded, down-sampled image
    Geometry(300, 200, (128, 128), (128, 85)),                 # SAM: up-sampled, tall image
    Geometry(90, 70, (128, 128), (128, 128), two_step=False),  # SAM 2: straight to the image
])
def test_box_restricted_upsampling_equals_the_processor_resize(geometry):
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    maps = []
    for cy, cx, r in [(10, 12, 5), (20, 8, 9), (4, 28, 3), (16, 16, 30)]:
        maps.append(8 * (1 - torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / r))
    logits = torch.stack(maps)
    reference = codec.encode_stack(upsample(logits, geometry, 0.0).numpy())
    upsampler = Upsampler(geometry, 32, 32, "cpu")
    read = logits[:, :upsampler.read_h, :upsampler.read_w] > 0
    for index, box in enumerate(mask_boxes(read).numpy()):
        result = upsampler.mask(logits[index], box, 0.0)
        if result is None:  # the blob lies in the padding: the processor's crop drops it too
            assert int(coco_mask.area(reference[index])) == 0
            continue
        rle, area = crop_rle(*result, geometry.height, geometry.width)
        assert area == int(coco_mask.area(reference[index]))
        assert coco_mask.iou([rle], [reference[index]], [0])[0, 0] == pytest.approx(1.0, abs=1e-3)


def test_crop_rle_matches_pycocotools():
    rng = np.random.default_rng(1)
    for top, left, h, w in [(0, 0, 5, 7), (3, 2, 4, 4), (6, 9, 4, 3)]:
        crop = rng.random((h, w)) > 0.5
        crop[0, 0] = True
        full = np.zeros((10, 12), dtype=np.uint8)
        full[top:top + h, left:left + w] = crop
        rle, area = crop_rle(crop, top, left, 10, 12)
        assert rle == codec.encode_array(full) and area == int(full.sum())


def test_nesting_confirms_the_estimated_parent_exactly():
    # b is 100% inside a; c touches a and b but is only 80% inside a: a root, however estimated
    full = np.zeros((3, 40, 40), dtype=np.uint8)
    full[0, 5:35, 5:35] = 1
    full[1, 10:20, 10:20] = 1
    full[2, 27:37, 5:15] = 1
    rles = codec.encode_stack(full)
    areas = full.reshape(3, -1).sum(1)
    nest = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(full[:, None], dtype=torch.float32),
                                                   8)[:, 0].flatten(1)
    forest = nest_forest(rles, areas, [0.9, 0.8, 0.7], nest, "sam", Geometry(40, 40, (40, 40), (40, 40)),
                         0.9, margin=0.5)
    parents = {int(n.area): n.parent for n in forest.nodes}
    assert parents == {900: None, 100: 0, int(areas[2]): None}
    assert forest.drops["sam_parent_unconfirmed"] == 1  # c was proposed (margin 0.5), then refused
    assert nesting_violations(forest) == []


def test_generate_decodes_again_only_the_survivors():
    """Thresholds keep a few candidates: the second decoder pass asks only for their prompts."""
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    calls: list[list[int]] = []

    def decode(prompts):
        calls.append([int(p) for p in prompts])
        maps, ious = [], []
        for p in prompts:
            cy, cx = 8 + (p % 6) * 9, 8 + (p // 6) * 9
            radii = (7, 4, 2)
            maps.append(torch.stack([40 * (1 - torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / r)
                                     for r in radii]))
            ious.append(torch.tensor([0.95 if p < 4 else 0.5, 0.5, 0.5]))
        return torch.stack(maps), torch.stack(ious)

    thresholds = Thresholds(pred_iou=0.9, stability=0.5, stability_offset=1.0, mask_threshold=0.0,
                            nms_iou=0.7, min_area=4, containment=0.9)
    forest = generate(decode, 36, 16, Geometry(128, 128, (128, 128), (128, 128)), thresholds, "sam")
    assert calls[:3] == [list(range(16)), list(range(16, 32)), list(range(32, 36))]
    assert calls[3:] == [[0, 1, 2, 3]]
    assert len(forest.nodes) == 4 and forest.drops["sam_pred_iou"] == 36 * 3 - 4
