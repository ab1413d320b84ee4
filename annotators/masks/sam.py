"""SAM automatic mask generation through transformers, nested into a forest by containment.

A grid of point prompts, three masks per point (whole / part / subpart), then SAM's filters:
predicted IoU, stability score (#(logits > t + offset) / #(logits > t - offset)), a minimum
region area and mask NMS; the survivors nest by containment (a child >= 90% inside its parent).
The image is embedded once; prompts run in batches, and only masks that pass the IoU filter are
upsampled to the image size.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from annotators.masks.forest import MaskForest, nest_by_containment
from schemas import masks as codec
from schemas.options.masks import SamOptions


def grid_points(height: int, width: int, per_side: int) -> np.ndarray:
    """(per_side^2, 2) (x, y) points at the centres of a regular grid, in pixels."""
    offsets = (np.arange(per_side) + 0.5) / per_side
    xs, ys = np.meshgrid(offsets * width, offsets * height)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def stability_scores(logits, threshold: float, offset: float):
    """SAM's stability: how much the mask changes when the logit threshold moves by the offset."""
    high = (logits > threshold + offset).flatten(1).sum(1).float()
    low = (logits > threshold - offset).flatten(1).sum(1).float()
    return np.where(low.numpy() > 0, (high / low.clamp(min=1)).numpy(), 0.0)


def mask_nms(rles: list[dict], scores: list[float], iou_threshold: float) -> list[int]:
    """Greedy NMS on mask IoU (pycocotools), best score first; returns kept indices."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    ious = codec.iou([rles[i] for i in order], [rles[i] for i in order])
    kept: list[int] = []
    for rank in range(len(order)):
        if all(ious[rank, other] < iou_threshold for other in kept):
            kept.append(rank)
    return [int(order[rank]) for rank in kept]


class SamSource:
    name = "sam"

    def __init__(self, options: SamOptions):
        if not options.model:
            raise ValueError("the sam source needs a model: a local SAM directory or a hub id")
        self.options = options
        self.model = None
        self.processor = None

    def load(self) -> None:
        """Load the model once (a stage calls this in `setup`)."""
        import torch
        from transformers import SamModel, SamProcessor

        torch.set_grad_enabled(False)
        self.processor = SamProcessor.from_pretrained(self.options.model)
        self.model = SamModel.from_pretrained(self.options.model).to(self.options.device).eval()

    def build(self, pixels: np.ndarray, annotations=None) -> MaskForest:
        if self.model is None:
            self.load()
        height, width = pixels.shape[:2]
        rles, scores, drops = self._candidates(pixels)
        kept = mask_nms(rles, scores, self.options.nms_iou) if rles else []
        drops["sam_nms"] += len(rles) - len(kept)
        kept.sort()
        forest = nest_by_containment([rles[i] for i in kept], self.name, height, width,
                                     scores=[scores[i] for i in kept],
                                     threshold=self.options.containment)
        forest.drops.update(drops)
        return forest

    def _candidates(self, pixels: np.ndarray) -> tuple[list[dict], list[float], Counter]:
        import torch

        o = self.options
        height, width = pixels.shape[:2]
        image_inputs = self.processor(images=pixels, return_tensors="pt")
        embeddings = self.model.get_image_embeddings(image_inputs["pixel_values"].to(o.device))
        points = grid_points(height, width, o.points_per_side)
        rles: list[dict] = []
        scores: list[float] = []
        drops: Counter = Counter()
        for start in range(0, len(points), o.points_per_batch):
            batch = points[start:start + o.points_per_batch]
            prompts = self.processor(images=pixels, input_points=[[[p.tolist()] for p in batch]],
                                     return_tensors="pt")
            output = self.model(image_embeddings=embeddings,
                                input_points=prompts["input_points"].to(o.device),
                                multimask_output=True)
            iou = output.iou_scores[0].flatten().cpu()  # (points * 3,)
            low_res = output.pred_masks[0].flatten(0, 1).cpu()  # (points * 3, h, w)
            passing = torch.nonzero(iou >= o.pred_iou_thresh).flatten()
            drops["sam_pred_iou"] += len(iou) - len(passing)
            if len(passing) == 0:
                continue
            logits = self.processor.post_process_masks(
                low_res[passing][None, :, None], image_inputs["original_sizes"],
                image_inputs["reshaped_input_sizes"], binarize=False,
            )[0][:, 0]
            stable = stability_scores(logits, o.mask_threshold, o.stability_score_offset)
            keep = stable >= o.stability_score_thresh
            drops["sam_stability"] += int((~keep).sum())
            if not keep.any():
                continue
            binary = (logits[torch.from_numpy(keep)] > o.mask_threshold).numpy()
            large = binary.reshape(len(binary), -1).sum(1) >= max(o.min_region_area, 1)
            drops["sam_min_area"] += int((~large).sum())
            if large.any():
                rles.extend(codec.encode_stack(binary[large]))
                scores.extend(iou[passing][torch.from_numpy(keep)][torch.from_numpy(large)].tolist())
        return rles, scores, drops
