"""Ask an LMM, through the same batched backends as describe, whether a phrase fits a region.

The model sees the image with the region highlighted (as when it was described) and answers
yes or no; the answer is constrained to those choices and, where the backend returns
first-token logprobs, the score is the probability of "yes".
"""

from __future__ import annotations

import math

import numpy as np

from annotators.backends import Request, user_message
from annotators.describe.visual import highlight
from annotators.verify.evidence import Verdict

QUESTION = ("Does the phrase \"{phrase}\" correctly describe the region outlined in red? "
            "Answer yes or no.")
PASS_AT, FAIL_AT = 0.6, 0.4


def verify_request(pixels: np.ndarray, mask: np.ndarray, phrase: str) -> Request:
    return Request(messages=[user_message(QUESTION.format(phrase=phrase), n_images=1)],
                   images=[highlight(pixels, mask)], choices=["yes", "no"],
                   want_first_token_logprobs=True)


def yes_probability(generation) -> float | None:
    if generation.first_token_logprobs:
        mass = {"yes": 0.0, "no": 0.0}
        for token, logprob in generation.first_token_logprobs.items():
            key = token.strip().lower()
            if key in mass and math.isfinite(logprob) and logprob <= 0:
                mass[key] += math.exp(logprob)
        if sum(mass.values()) > 0:
            return mass["yes"] / sum(mass.values())
    answer = (generation.text or "").strip().lower()
    if answer.startswith("yes"):
        return 1.0
    if answer.startswith("no"):
        return 0.0
    return None


def lmm_verdict(generation) -> Verdict:
    if not generation.ok:
        return Verdict("unsure", None, f"model error: {generation.error}", ("model_error",))
    p_yes = yes_probability(generation)
    if p_yes is None:
        return Verdict("unsure", None, f"answer is neither yes nor no: {generation.text[:80]!r}",
                       ("unparseable",))
    if p_yes >= PASS_AT:
        return Verdict("pass", p_yes, f"the model says yes (p={p_yes:.2f})")
    if p_yes <= FAIL_AT:
        return Verdict("fail", p_yes, f"the model says no (p(yes)={p_yes:.2f})", ("model_no",))
    return Verdict("unsure", p_yes, f"the model is undecided (p(yes)={p_yes:.2f})")
