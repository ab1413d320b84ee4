"""The weight-free default scorer: a proxy, not a judge.

score(sample, capability) = 5 x relevance x quality, where
- relevance is the cosine similarity of the sample's text to the written description of the
  capability (local text embeddings), rescaled per sample so that its most and least similar
  capabilities span [0, 1], and zeroed below an absolute similarity floor;
- quality in [0.4, 1] rewards longer answers, more turns and grounded answers (<p>..</p> [SEG]
  or numeric boxes).
It says what a sample is *about*, not whether it is *helpful*; an LMM judge measures the latter.
"""

from __future__ import annotations

import math
import re

import numpy as np

from annotators.embeddings import TextEmbedder
from annotators.scoring.capabilities import DESCRIPTIONS
from annotators.scoring.samples import PreparedSample

SIMILARITY_FLOOR = 0.05
_GROUNDED = re.compile(r"\[SEG\]|<p>.*?</p>|\[\s*-?\d+(?:\.\d+)?\s*(?:,\s*-?\d+(?:\.\d+)?\s*){3}\]",
                       re.S)


def quality(sample: PreparedSample) -> float:
    """0.4 .. 1.0 from answer length (saturates near 150 words), turn count and grounding."""
    words = sum(len(a.split()) for a in sample.answers)
    length = min(1.0, math.log1p(words) / math.log1p(150))
    turns = min(1.0, len(sample.turns) / 4)
    grounded = 1.0 if any(_GROUNDED.search(a) for a in sample.answers) else 0.0
    return 0.4 + 0.6 * (0.6 * length + 0.25 * turns + 0.15 * grounded)


class RuleScorer:
    name = "rules"

    def __init__(self, embedder: TextEmbedder):
        self.embedder = embedder
        self.capability_vectors = embedder.embed(list(DESCRIPTIONS.values()))

    def score(self, samples: list[PreparedSample]) -> np.ndarray:
        """(n, 14) scores in [0, 5], one batched embedding call for the whole batch."""
        if not samples:
            return np.zeros((0, len(DESCRIPTIONS)), np.float32)
        vectors = self.embedder.embed([s.plain_text() for s in samples])
        similarity = vectors @ self.capability_vectors.T
        low = similarity.min(axis=1, keepdims=True)
        high = similarity.max(axis=1, keepdims=True)
        relevance = (similarity - low) / np.maximum(high - low, 1e-6)
        relevance[similarity < SIMILARITY_FLOOR] = 0.0
        weights = np.array([quality(s) for s in samples], np.float32)[:, None]
        return np.round(5.0 * relevance * weights, 2).astype(np.float32)
