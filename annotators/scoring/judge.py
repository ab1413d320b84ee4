"""The LMM judge and LMM styler with mmSSR's prompts, through the batched backends.

Prompts are `mmssr_prompts` (byte-identical to the released code), with its system prompt and
greedy decoding; nothing constrains the answer. One request per (sample, capability), all of a
batch in one `generate` call.

Scores (`score_mode`):
- "int" (default, mmSSR): the answer parsed with Python `int()`; unparseable or outside 0-5
  -> null, with the reason in the row's notes and a counter;
- "expected" (a named option, the DEITA pattern, not mmSSR): the expected value over the
  first-token probabilities of "0".."5" where the backend returns logprobs, else the strict
  parse. An expected 0.3 passes mmSSR's `> 0` threshold where the integer 0 would not.

Backends that render images through the model's chat template (transformers) get the prompt
with its `<image>` placeholders removed, since the template inserts the image token itself;
OpenAI-compatible servers get the exact text (vLLM puts the image where the text's own
`<image>` placeholder is).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotators.backends import Backend, Generation, Request, choice_probabilities, user_message
from annotators.scoring import mmssr_prompts as mp
from annotators.scoring.samples import PreparedSample

SCORE_TOKENS = ("0", "1", "2", "3", "4", "5")
SCORE_MODES = ("int", "expected")


def read_score(generation: Generation, score_mode: str = "int") -> tuple[float | None, str | None]:
    """(score, None) or (None, reason). `score_mode` "expected" reads the first-token logprobs."""
    if not generation.ok:
        return None, f"backend_error: {generation.error}"
    if score_mode == "expected":
        probabilities = choice_probabilities(generation, list(SCORE_TOKENS))
        if probabilities is not None:
            return sum(int(token) * p for token, p in probabilities.items()), None
    value, reason = mp.parse_score(generation.text)
    return (None, reason) if value is None else (float(value), None)


@dataclass
class JudgeResult:
    scores: np.ndarray  # (n, 14) float32, NaN where null
    notes: list[list[str]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)


def _request(backend: Backend, prompt: str, image: Any, **extra) -> Request:
    images = [image] if image is not None else []
    if backend.name == "transformers":  # the chat template inserts the image token itself
        prompt = prompt.replace("<image>\n", "").replace("<image>", "")
    system = {"role": "system", "content": [{"type": "text", "text": mp.SYSTEM_PROMPT}]}
    return Request(messages=[system, user_message(prompt, n_images=len(images))], images=images, **extra)


class LMMJudge:
    name = "lmm"

    def __init__(self, backend: Backend, keywords: list[str] | None = None, score_mode: str = "int"):
        if score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {score_mode!r}")
        self.backend = backend
        self.keywords = keywords or mp.capability_keywords()
        self.score_mode = score_mode

    def prompts(self, sample: PreparedSample) -> list[str]:
        return [mp.scorer_prompt(sample.values, keyword) for keyword in self.keywords]

    def score(self, samples: list[PreparedSample], images: list[Any]) -> JudgeResult:
        expected = self.score_mode == "expected"
        requests = [_request(self.backend, prompt, image, want_first_token_logprobs=expected)
                    for sample, image in zip(samples, images, strict=True)
                    for prompt in self.prompts(sample)]
        generations = self.backend.generate(requests)
        n_capabilities = len(self.keywords)
        scores = np.full((len(samples), n_capabilities), np.nan, np.float32)
        result = JudgeResult(scores, [[] for _ in samples])
        for flat, generation in enumerate(generations):
            row, column = divmod(flat, n_capabilities)
            value, reason = read_score(generation, self.score_mode)
            if value is None:
                result.notes[row].append(f"{self.keywords[column]}: {reason}")
                result.counters["scores_" + reason.split(":")[0]] += 1
                continue
            scores[row, column] = value
            from_logprobs = expected and generation.first_token_logprobs is not None \
                and choice_probabilities(generation, list(SCORE_TOKENS)) is not None
            result.counters["scores_from_logprobs" if from_logprobs else "scores_parsed"] += 1
        return result


class LMMStyler:
    """mmSSR's styler prompt; styles = the answer split on ",", each piece stripped."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def styles(self, samples: list[PreparedSample], images: list[Any]) -> tuple[list[list[str]], list[str]]:
        """(styles per sample, a note per sample: "" or why the styler gave nothing)."""
        requests = [_request(self.backend, mp.styler_prompt(s.values), image)
                    for s, image in zip(samples, images, strict=True)]
        found, notes = [], []
        for generation in self.backend.generate(requests):
            if not generation.ok:
                found.append([])
                notes.append(f"styler backend_error: {generation.error}")
            else:
                found.append(mp.parse_styles(generation.text))
                notes.append("")
        return found, notes
