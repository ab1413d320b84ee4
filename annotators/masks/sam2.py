"""SAM 2 as a hierarchy source (`--source sam2`) through transformers' Sam2Model.

UnSAMv2 builds on SAM 2, so its hierarchies can be mined from the same model family. The whole
candidate path (filters, box NMS, survivors-only up-sampling, nesting) is SAM's, on the device;
only the model specifics differ: SAM 2 resizes the image to the full input square (no padding),
its image embeddings are a list of feature levels, and point coordinates scale per axis.

Why the image is prepared here and not by Sam2Processor: transformers' Sam2ImageProcessor
imports torchvision at module level, and torchvision is not a dependency of this project. Its
preprocessing is small and fixed (resize to `size` with bilinear antialiasing, rescale, normalise
with the saved mean/std); we read those settings from the model's own preprocessor_config.json
(through transformers' config reader) and apply them in torch on the model's device.
"""

from __future__ import annotations

import numpy as np

from annotators.masks.sam import SamSource
from annotators.model_loading import load_failure

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Sam2Frame:
    """Sam2ImageProcessor's preprocessing, from the saved preprocessor config."""

    def __init__(self, settings: dict):
        size = settings.get("size") or {"height": 1024, "width": 1024}
        self.size = (int(size["height"]), int(size["width"]))
        self.mean = tuple(settings.get("image_mean") or IMAGENET_MEAN)
        self.std = tuple(settings.get("image_std") or IMAGENET_STD)
        self.rescale = float(settings.get("rescale_factor") or 1 / 255)

    def __call__(self, pixels: np.ndarray, device: str):
        import torch
        import torch.nn.functional as F

        image = torch.from_numpy(np.array(pixels)).to(device).permute(2, 0, 1)[None].float()
        image = F.interpolate(image, self.size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean, device=device)[None, :, None, None]
        std = torch.tensor(self.std, device=device)[None, :, None, None]
        return (image * self.rescale - mean) / std


class Sam2Source(SamSource):
    name = "sam2"
    model_types = ("sam2",)

    def _load_from(self, target: str) -> None:
        from transformers import Sam2Model
        from transformers.image_processing_base import ImageProcessingMixin

        try:
            settings, _ = ImageProcessingMixin.get_image_processor_dict(target)
            self.processor = Sam2Frame(settings)
            self.model = Sam2Model.from_pretrained(target).to(self.options.device).eval()
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise load_failure(self.options.model, exc) from None

    def _embed(self, pixels: np.ndarray):
        from annotators.masks.sam_candidates import Geometry

        height, width = pixels.shape[:2]
        pixel_values = self.processor(pixels, self.options.device)
        embeddings = self.model.get_image_embeddings(pixel_values)
        frame = self.processor.size
        geometry = Geometry(height, width, frame, frame, two_step=False)
        # Sam2Processor._normalize_coordinates: x scales by frame width / width, y by height
        scale = np.array([frame[1] / width, frame[0] / height])
        return embeddings, geometry, lambda points: points * scale
