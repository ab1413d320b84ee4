"""The LMM judge and LMM styler (mmSSR prompt shapes) through the batched backends.

One request per (sample, capability), all of a batch sent in one `generate` call. The answer is
constrained to the tokens "0".."5" where the backend can do it; with first-token logprobs the
score is the expected value over those six tokens (DEITA), otherwise the parsed integer.
An answer with neither becomes null, and the reason is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotators.backends import Backend, Generation, Request, choice_probabilities, user_message
from annotators.scoring.samples import PreparedSample
from annotators.scoring.styler import parse_styles
from schemas.contract import CAPABILITIES, STYLES

SCORE_TOKENS = ("0", "1", "2", "3", "4", "5")
SCORER_PROMPT_ID = "mmssr-scorer-v1"
STYLER_PROMPT_ID = "mmssr-styler-v1"
_FIRST_DIGIT = re.compile(r"(?<!\d)([0-5])(?!\d)")


def scorer_prompt(sample: PreparedSample, capability: str) -> str:
    return (f"{sample.serialised()}\n"
            "On a scale of 0 to 5, how do you rate the helpfulness of the VQA instance in training "
            f"a Multimodal Large Language Model for {capability}?")


def styler_prompt(sample: PreparedSample) -> str:
    candidates = ", ".join(STYLES)
    return f"{sample.serialised()}\nInteraction style candidates: [{candidates}]\nStyles: "


def read_score(generation: Generation, use_logprobs: bool) -> tuple[float | None, str | None]:
    """(score, None) or (None, reason)."""
    if not generation.ok:
        return None, f"backend_error: {generation.error}"
    if use_logprobs:
        probabilities = choice_probabilities(generation, list(SCORE_TOKENS))
        if probabilities is not None:
            return sum(int(token) * p for token, p in probabilities.items()), None
    match = _FIRST_DIGIT.search(generation.text)
    if match:
        return float(match.group(1)), None
    return None, f"unparseable_score: {generation.text[:80]!r}"


@dataclass
class JudgeResult:
    scores: np.ndarray  # (n, 14) float32, NaN where unparseable
    notes: list[list[str]] = field(default_factory=list)
    expected_value: int = 0  # how many scores came from logprobs
    parsed: int = 0  # how many from the parsed integer


def _request(prompt: str, image: Any, **extra) -> Request:
    images = [image] if image is not None else []
    return Request(messages=[user_message(prompt, n_images=len(images))], images=images, **extra)


class LMMJudge:
    name = "lmm"

    def __init__(self, backend: Backend, use_logprobs: bool = True):
        self.backend = backend
        self.use_logprobs = use_logprobs

    def score(self, samples: list[PreparedSample], images: list[Any]) -> JudgeResult:
        requests = [
            _request(scorer_prompt(sample, capability), image, choices=list(SCORE_TOKENS),
                     want_first_token_logprobs=self.use_logprobs)
            for sample, image in zip(samples, images, strict=True) for capability in CAPABILITIES
        ]
        generations = self.backend.generate(requests)
        scores = np.full((len(samples), len(CAPABILITIES)), np.nan, np.float32)
        result = JudgeResult(scores, [[] for _ in samples])
        for flat, generation in enumerate(generations):
            row, column = divmod(flat, len(CAPABILITIES))
            value, reason = read_score(generation, self.use_logprobs)
            if value is None:
                result.notes[row].append(f"{CAPABILITIES[column]}: {reason}")
                continue
            scores[row, column] = value
            from_logprobs = self.use_logprobs and generation.first_token_logprobs is not None
            result.expected_value += int(from_logprobs)
            result.parsed += int(not from_logprobs)
        return result


class LMMStyler:
    """Free-text styles parsed from the mmSSR styler prompt; where none parse, one constrained
    choice among the 9 styles (a second batched call for those samples only)."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def styles(self, samples: list[PreparedSample], images: list[Any]) -> list[list[str]]:
        prompts = [styler_prompt(s) for s in samples]
        generations = self.backend.generate([_request(p, im) for p, im in zip(prompts, images, strict=True)])
        found = [parse_styles(g.text) if g.ok else [] for g in generations]
        missing = [i for i, styles in enumerate(found) if not styles]
        if missing:
            retry = self.backend.generate(
                [_request(prompts[i], images[i], choices=list(STYLES)) for i in missing])
            for i, generation in zip(missing, retry, strict=True):
                found[i] = parse_styles(generation.text) if generation.ok else []
        return found
