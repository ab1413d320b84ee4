"""Region-text similarity with a CLIP-family model (CLIP, SigLIP) loaded through transformers.

Each region is shown alone (its box, pixels outside the mask set to grey) and embedded; each
phrase of the same caption is embedded; a phrase must match its own region better than the other
phrases do (that catches phrases swapped between masks) and reach the dataset's threshold.
"""

from __future__ import annotations

import numpy as np

from annotators.describe.visual import crop
from annotators.verify.evidence import Verdict

NEUTRAL_GREY = 127


def region_view(pixels: np.ndarray, mask: np.ndarray, bbox: list[float]) -> np.ndarray:
    shown = pixels.copy()
    shown[~mask] = NEUTRAL_GREY
    return crop(shown, bbox, margin=0.05)


class ClipVerifier:
    name = "clip"

    def __init__(self, model: str, *, device: str = "cpu", trust_remote_code: bool = False,
                 margin: float = 0.0):
        import torch
        from transformers import AutoModel, AutoProcessor

        from annotators.model_loading import load_failure, resolve_model

        self.torch = torch
        self.model_id, self.device, self.margin = model, device, margin
        target = resolve_model(model, kind="CLIP model")  # fails in seconds, in one line
        try:
            self.processor = AutoProcessor.from_pretrained(target, trust_remote_code=trust_remote_code)
            self.model = AutoModel.from_pretrained(target, trust_remote_code=trust_remote_code)
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise load_failure(model, exc) from None
        self.model.to(device).eval()

    def _normalised(self, features) -> np.ndarray:
        if not isinstance(features, self.torch.Tensor):  # newer transformers return an output object
            pooled = getattr(features, "pooler_output", None)
            features = pooled if pooled is not None else features[0]
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features.float().cpu().numpy()

    def similarities(self, regions: list[np.ndarray], texts: list[str]) -> np.ndarray:
        """Cosine similarity, regions x texts."""
        with self.torch.inference_mode():
            images = self.processor(images=regions, return_tensors="pt").to(self.device)
            tokens = self.processor(text=texts, return_tensors="pt", padding=True,
                                    truncation=True).to(self.device)
            image_features = self._normalised(self.model.get_image_features(**images))
            text_features = self._normalised(self.model.get_text_features(**tokens))
        return image_features @ text_features.T


def clip_verdicts(sims: np.ndarray, texts: list[str], threshold: float, margin: float) -> list[Verdict]:
    """Verdicts for the phrases of one caption from its regions x phrases similarity matrix."""
    verdicts = []
    for i, text in enumerate(texts):
        own = float(sims[i, i])
        distinct = [j for j in range(len(texts)) if j != i and texts[j].lower() != text.lower()]
        rival = max(distinct, key=lambda j: sims[i, j], default=None)
        if rival is not None and float(sims[i, rival]) > own + margin:
            verdicts.append(Verdict("fail", own, f"swap: the region matches \"{texts[rival]}\" "
                                    f"({sims[i, rival]:.3f}) better than its own phrase ({own:.3f})",
                                    ("swap",)))
        elif own < threshold:
            verdicts.append(Verdict("fail", own, f"similarity {own:.3f} below the dataset threshold "
                                    f"{threshold:.3f}", ("similarity",)))
        else:
            verdicts.append(Verdict("pass", own, f"similarity {own:.3f} >= threshold {threshold:.3f}"))
    return verdicts


def calibrated_threshold(own_similarities: list[float], quantile: float) -> float:
    """The dataset's threshold: the `quantile` of its own-phrase similarities."""
    if not own_similarities:
        return -1.0
    return float(np.quantile(np.asarray(own_similarities), quantile))
