"""The one batched LMM interface: requests (images + chat) in, generations (text) out.

Every backend (transformers, openai, vllm, template) takes a list of `Request`s and returns one
`Generation` per request, in order. A failed request yields a `Generation` with `error` set;
`generate` itself never raises for a bad item, so one bad image cannot sink a batch. It raises
only `BackendUnavailable`: the server is gone (or the deadline passed), and the step must stop
instead of replacing every answer by a fallback.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

TOP_LOGPROBS = 20


class BackendUnavailable(ConnectionError):
    """The model server cannot be used at all: not reachable at setup, failing request after
    request, or past the step's deadline. A ConnectionError (an OSError), so every command that
    already reports OSErrors as one line reports this one too."""


@dataclass
class Request:
    """One prompt. `messages` are chat turns; a content part `{"type": "image"}` takes the next
    image of `images`, in order. `template_answer` is what the weight-free template backend
    returns (and what describers fall back to)."""

    messages: list[dict]
    images: list[Any] = field(default_factory=list)  # numpy RGB arrays or PIL images
    json_schema: dict | None = None
    choices: list[str] | None = None
    want_first_token_logprobs: bool = False
    template_answer: str | None = None


@dataclass
class Generation:
    text: str = ""
    # log-probabilities of candidate first tokens (token text -> logprob); None if unavailable
    first_token_logprobs: dict[str, float] | None = None
    error: str | None = None
    # why the request failed: timeout | connection | http_429 | http_5xx | http_4xx | malformed |
    # unavailable | exception (a backend's own failure)
    error_kind: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Backend:
    """Subclasses set `name` and implement `_generate`; `params()` feeds provenance and caching."""

    name = "backend"

    def __init__(self, model: str | None = None, *, max_new_tokens: int = 256,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int = 0):
        self.model = model or ""
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed

    def params(self) -> dict:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "top_p": self.top_p, "seed": self.seed}

    @property
    def counters(self) -> Counter:
        """Events of this backend's calls since the stage last took them (`take_counters`):
        requests, failed requests, failed attempts by kind, answers by source."""
        found = self.__dict__.get("_counters")
        if found is None:
            found = self.__dict__["_counters"] = Counter()
        return found

    def generate(self, requests: list[Request]) -> list[Generation]:
        if not requests:
            return []
        results = self._generate(requests)
        self.counters["requests"] += len(requests)
        self.counters["failed_requests"] += sum(1 for g in results if not g.ok)
        return results

    def _generate(self, requests: list[Request]) -> list[Generation]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the backend holds (processes, clients)."""


def user_message(text: str, n_images: int = 0) -> dict:
    """A user turn with `n_images` image slots before the text (LLaVA-style ordering)."""
    parts = [{"type": "image"} for _ in range(n_images)]
    parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}


def assistant_message(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def to_pil(image: Any) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def data_url(image: Any) -> str:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def openai_messages(request: Request) -> list[dict]:
    """Chat messages in OpenAI form: each image slot becomes an `image_url` data URL."""
    images = iter(request.images)
    converted = []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, str):
            converted.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                parts.append({"type": "image_url", "image_url": {"url": data_url(next(images))}})
            else:
                parts.append({"type": "text", "text": part["text"]})
        converted.append({"role": message["role"], "content": parts})
    return converted


def take_counters(backend: Backend) -> Counter:
    """The counters of `backend` and of every backend it wraps (`.inner`), summed; then cleared."""
    total: Counter = Counter()
    seen = set()
    while backend is not None and id(backend) not in seen:
        seen.add(id(backend))
        counters = getattr(backend, "counters", None)
        if counters:
            total.update(counters)
            counters.clear()
        backend = getattr(backend, "inner", None)
    return total


def choice_probabilities(generation: Generation, choices: list[str]) -> dict[str, float] | None:
    """Normalised probabilities of single-token `choices` from first-token logprobs.

    Tokens are compared without surrounding whitespace (" 3" and "3" are the same answer).
    Returns None when the generation carries no logprobs, none of the choices appears with a
    probability above 0, or a choice's logprob is NaN or +inf (never turned into a score). Normalised in
    log space (shifted by the largest logprob), so no value can overflow `exp`.
    """
    if not generation.first_token_logprobs:
        return None
    found: dict[str, list[float]] = {}
    for token, logprob in generation.first_token_logprobs.items():
        key = token.strip()
        if key in choices:
            if not isinstance(logprob, (int, float)) or math.isnan(logprob) or logprob == math.inf:
                return None
            if logprob != -math.inf:  # -inf is a probability of 0 (e.g. masked by a grammar)
                found.setdefault(key, []).append(float(logprob))
    if not found:
        return None
    top = max(v for values in found.values() for v in values)
    mass = {choice: sum(math.exp(v - top) for v in found.get(choice, [])) for choice in choices}
    total = sum(mass.values())
    return {choice: value / total for choice, value in mass.items()}
