"""The model verifiers: CLIP region-text similarity and an LMM asked yes or no.

Both reuse the rules runner's entry building and only replace how a phrase (or an instance
description) against its mask is judged; scene and track descriptions they cannot judge are
`unsure`, with that reason.
"""

from __future__ import annotations

import numpy as np

from annotators.verify.captions import GroundedPhrase
from annotators.verify.clip import ClipVerifier, clip_verdicts, region_view
from annotators.verify.evidence import ImageEvidence, Verdict
from annotators.verify.lmm import QUESTION, lmm_verdict, verify_request
from annotators.verify.runners import RulesRunner, _missing_mask

REGIONS_ONLY = "this verifier checks region descriptions only"


def mask_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
            float(ys.max() - ys.min() + 1)]


def _usable(mask: np.ndarray | None, image: ImageEvidence) -> bool:
    return mask is not None and mask.shape == image.shape and bool(mask.any())


class _ModelRunner(RulesRunner):
    def judge(self, texts: list[str], masks: list[np.ndarray], image: ImageEvidence) -> list[Verdict]:
        raise NotImplementedError

    def phrase_verdicts(self, phrases: list[GroundedPhrase], masks, image: ImageEvidence):
        usable = [i for i, m in enumerate(masks) if _usable(m, image)]
        judged = dict(zip(usable, self.judge([phrases[i].text for i in usable],
                                             [masks[i] for i in usable], image), strict=True))
        return [judged.get(i) or _missing_mask(p) for i, p in enumerate(phrases)]

    def description_verdict(self, row, evidence, tracks) -> Verdict:
        image = evidence.get(row.get("image_id"))
        if row["scope"] != "instance" or image is None or row.get("target_id") not in image.by_id:
            return Verdict("unsure", None, REGIONS_ONLY, ("not_checkable",))
        return self.judge([row.get("short") or ""], [image.mask(row["target_id"])], image)[0]


class ClipRunner(_ModelRunner):
    name = "clip"

    def __init__(self, vocabulary, created_at, clip: ClipVerifier, threshold: float,
                 margin: float, params: dict):
        super().__init__(vocabulary, created_at, {**params, "threshold": threshold, "margin": margin},
                         backend="transformers", model=clip.model_id)
        self.clip, self.threshold, self.margin = clip, threshold, margin

    def similarities(self, texts, masks, image: ImageEvidence) -> np.ndarray:
        regions = [region_view(image.pixels, m, mask_box(m)) for m in masks]
        return self.clip.similarities(regions, texts)

    def judge(self, texts, masks, image):
        if not texts:
            return []
        return clip_verdicts(self.similarities(texts, masks, image), texts, self.threshold,
                             self.margin)


class LmmRunner(_ModelRunner):
    name = "lmm"

    def __init__(self, vocabulary, created_at, backend, backend_name: str, model: str):
        super().__init__(vocabulary, created_at, {"question": QUESTION}, backend=backend_name,
                         model=model, prompt=QUESTION)
        self.backend = backend

    def judge(self, texts, masks, image):
        return self._ask([(t, m, image) for t, m in zip(texts, masks, strict=True)])

    def phrase_verdicts_batch(self, captions):
        """Every usable phrase of the batch in ONE backend call (vLLM / a server batch it)."""
        asked = [(c, i) for c, (phrases, masks, image) in enumerate(captions)
                 for i, m in enumerate(masks) if _usable(m, image)]
        answers = iter(self._ask([(captions[c][0][i].text, captions[c][1][i], captions[c][2])
                                  for c, i in asked]))
        judged = {key: next(answers) for key in asked}
        return [[judged.get((c, i)) or _missing_mask(p) for i, p in enumerate(phrases)]
                for c, (phrases, _, _) in enumerate(captions)]

    def _ask(self, items: list[tuple]) -> list[Verdict]:
        requests = [verify_request(image.pixels, mask, text) for text, mask, image in items]
        return [lmm_verdict(g) for g in self.backend.generate(requests)]
