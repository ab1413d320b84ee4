"""SAM automatic mask generation through transformers, nested into a forest by containment.

A grid of point prompts, three masks per point (whole / part / subpart), then SAM's filters:
predicted IoU, stability score (#(logits > t + offset) / #(logits > t - offset)), a minimum
region area and box NMS; the survivors nest by containment (a child >= 90% inside its parent).
The image is processed and embedded once; prompts go through the mask decoder in batches and
everything after the decoder runs on the model's device (see `sam_candidates`), so only the
masks that survive NMS are ever up-sampled to the image size and encoded.
"""

from __future__ import annotations

import numpy as np

from annotators.masks.forest import MaskForest
from annotators.model_loading import load_failure, resolve_model
from schemas.options.masks import SamOptions


def grid_points(height: int, width: int, per_side: int) -> np.ndarray:
    """(per_side^2, 2) (x, y) points at the centres of a regular grid, in pixels."""
    offsets = (np.arange(per_side) + 0.5) / per_side
    xs, ys = np.meshgrid(offsets * width, offsets * height)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def thresholds_of(options: SamOptions):
    from annotators.masks.sam_candidates import Thresholds

    return Thresholds(pred_iou=options.pred_iou_thresh, stability=options.stability_score_thresh,
                      stability_offset=options.stability_score_offset,
                      mask_threshold=options.mask_threshold, nms_iou=options.nms_iou,
                      min_area=options.min_region_area, containment=options.containment)


class SamSource:
    """SAM (transformers SamModel). SAM 2 subclasses it and changes only the model specifics:
    which classes load, how the image is framed, and how a decoder call is made."""

    name = "sam"
    model_types: tuple[str, ...] = ("sam",)

    def __init__(self, options: SamOptions):
        if not options.model:
            raise ValueError(f"the {self.name} source needs a model: a local directory or a hub id")
        self.options = options
        self.model = None
        self.processor = None

    def load(self) -> None:
        """Load the model once (a stage calls this in `setup`); a bad name fails in seconds."""
        import torch

        torch.set_grad_enabled(False)
        self._load_from(resolve_model(self.options.model, f"{self.name} model", self.model_types))

    def _load_from(self, target: str) -> None:
        from transformers import SamModel, SamProcessor

        try:
            self.processor = SamProcessor.from_pretrained(target)
            self.model = SamModel.from_pretrained(target).to(self.options.device).eval()
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise load_failure(self.options.model, exc) from None

    def build(self, pixels: np.ndarray, annotations=None) -> MaskForest:
        import torch

        from annotators.masks.sam_candidates import generate

        if self.model is None:
            self.load()
        o = self.options
        height, width = pixels.shape[:2]
        with torch.inference_mode():
            embeddings, geometry, to_model = self._embed(pixels)
            points = grid_points(height, width, o.points_per_side)
            model_points = torch.as_tensor(to_model(points), dtype=torch.float32, device=o.device)

            def decode(prompts: np.ndarray):
                selected = model_points[torch.as_tensor(prompts, device=o.device)]
                return self._decode(embeddings, selected)

            return generate(decode, len(points), o.points_per_batch, geometry, thresholds_of(o),
                            self.name)

    def _embed(self, pixels: np.ndarray):
        """The image processed and embedded once -> (embeddings, geometry, pixel->model points)."""
        from annotators.masks.sam_candidates import Geometry

        height, width = pixels.shape[:2]
        inputs = self.processor(images=pixels, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.options.device)
        embeddings = self.model.get_image_embeddings(pixel_values)
        new_h, new_w = (int(v) for v in inputs["reshaped_input_sizes"][0])
        geometry = Geometry(height, width, tuple(pixel_values.shape[-2:]), (new_h, new_w))
        scale = np.array([new_w / width, new_h / height])  # SAM's ResizeLongestSide on coordinates
        return embeddings, geometry, lambda points: points * scale

    def _decode(self, embeddings, points):
        """(b, 2) model-frame points -> low-res logits (b, 3, h, w) and predicted IoU (b, 3)."""
        output = self.model(image_embeddings=embeddings, input_points=points[None, :, None, :],
                            multimask_output=True)
        return output.pred_masks[0], output.iou_scores[0]
