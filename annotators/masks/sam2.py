"""SAM 2 as a hierarchy source (`--source sam2`) through transformers' Sam2Model / Sam2Processor.

UnSAMv2 builds on SAM 2, so its hierarchies can be mined from the same model family. The whole
candidate path (filters, box NMS, survivors-only up-sampling, nesting) is SAM's, on the device;
only the model specifics differ: SAM 2 resizes the image to the full input square (no padding),
its image embeddings are a list of feature levels, and point coordinates scale per axis.
"""

from __future__ import annotations

import numpy as np

from annotators.masks.sam import SamSource


class Sam2Source(SamSource):
    name = "sam2"
    model_types = ("sam2",)

    def _classes(self):
        from transformers import Sam2Model, Sam2Processor

        return Sam2Model, Sam2Processor

    def _embed(self, pixels: np.ndarray):
        from annotators.masks.sam_candidates import Geometry

        height, width = pixels.shape[:2]
        inputs = self.processor(images=pixels, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.options.device)
        embeddings = self.model.get_image_embeddings(pixel_values)
        frame = tuple(int(v) for v in pixel_values.shape[-2:])
        geometry = Geometry(height, width, frame, frame)
        target = float(self.processor.target_size)
        scale = np.array([target / width, target / height])  # Sam2Processor._normalize_coordinates
        return embeddings, geometry, lambda points: points * scale
