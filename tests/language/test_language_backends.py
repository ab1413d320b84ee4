"""Backends on a real tiny LLaVA (random weights, tokenizer trained here), loaded the user's way."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from annotators.backends import Request, choice_probabilities, make_backend, user_message
from annotators.backends.base import Generation, openai_messages
from annotators.backends.cache import CachedBackend, GenerationCache
from annotators.backends.openai_backend import first_token_logprobs

SCORES = [str(i) for i in range(6)]


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, size=(24 + 4 * i, 30, 3), dtype=np.uint8) for i in range(n)]


def requests_for(pictures, **extra) -> list[Request]:
    # prompts of different lengths, so left padding is really exercised
    return [Request(messages=[user_message("Describe this image" + " please" * i, 1)], images=[p], **extra)
            for i, p in enumerate(pictures)]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return make_backend("transformers", model=str(tiny_model_dir), max_new_tokens=6, max_batch_size=8)


def test_batched_generation_equals_one_at_a_time(tiny):
    batch = requests_for(images(4))
    together = tiny.generate(batch)
    alone = [tiny.generate([r])[0] for r in batch]
    assert all(g.ok for g in together)
    assert [g.text for g in together] == [g.text for g in alone]
    assert any(g.text for g in together)


def test_first_token_logprobs_and_choices(tiny):
    batch = requests_for(images(2), want_first_token_logprobs=True)
    for generation in tiny.generate(batch):
        assert generation.first_token_logprobs and len(generation.first_token_logprobs) >= 10
        assert sum(math.exp(v) for v in generation.first_token_logprobs.values()) <= 1.0 + 1e-4
    judged = tiny.generate(requests_for(images(3), choices=SCORES))
    for generation in judged:
        assert generation.text in SCORES
        probabilities = choice_probabilities(generation, SCORES)
        assert probabilities is not None and abs(sum(probabilities.values()) - 1) < 1e-6
        assert max(probabilities, key=probabilities.get) == generation.text


def test_requests_without_images_mix_with_image_requests(tiny):
    mixed = [*requests_for(images(1)), Request(messages=[user_message("Just text")])]
    out = tiny.generate(mixed)
    assert len(out) == 2 and all(g.ok for g in out)


def test_cache_answers_a_rerun_from_disk(tiny, tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    cached = CachedBackend(tiny, cache)
    batch = requests_for(images(3))
    first = cached.generate(batch)
    assert cached.misses == 3 and cached.hits == 0 and len(cache) == 3
    again = CachedBackend(tiny, GenerationCache(tmp_path / "c.sqlite")).generate(batch)
    assert all(g.cached for g in again)
    assert [g.text for g in again] == [g.text for g in first]
    other = requests_for(images(3, seed=9))  # different pixels -> different keys
    assert not any(g.cached for g in cached.generate(other))


def test_template_backend_answers_only_from_evidence():
    backend = make_backend("template")
    out = backend.generate([Request(messages=[], template_answer="a red car"), Request(messages=[])])
    assert out[0].text == "a red car" and out[1].error


def test_unknown_backend_and_missing_model_are_clear_errors():
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("nope")
    with pytest.raises(ValueError, match="--model"):
        make_backend("transformers")


def test_openai_messages_carry_images_as_data_urls():
    picture = images(1)[0]
    (message,) = openai_messages(Request(messages=[user_message("hi", 1)], images=[picture]))
    url = message["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, picture)
    assert message["content"][1] == {"type": "text", "text": "hi"}


def test_first_token_logprobs_read_from_an_openai_choice():
    from openai.types.chat.chat_completion import Choice

    choice = Choice.model_validate({
        "index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "4"},
        "logprobs": {"content": [{"token": "4", "logprob": -0.1, "bytes": None, "top_logprobs": [
            {"token": "4", "logprob": -0.1, "bytes": None},
            {"token": "3", "logprob": -2.5, "bytes": None}]}]},
    })
    table = first_token_logprobs(choice)
    assert table == {"4": -0.1, "3": -2.5}
    probabilities = choice_probabilities(Generation("4", table), SCORES)
    assert probabilities["4"] > 0.9 and probabilities["0"] == 0.0


def test_vllm_backend_builds_structured_outputs():
    pytest.importorskip("vllm")
    from annotators.backends.vllm_backend import VLLMBackend

    backend = VLLMBackend.__new__(VLLMBackend)  # sampling parameters need no engine
    backend.temperature, backend.top_p, backend.max_new_tokens, backend.seed = 0.0, 1.0, 8, 0
    params = backend.sampling_params(Request(messages=[], choices=SCORES))
    assert params.structured_outputs.choice == SCORES and params.logprobs


def test_sampled_decoding_is_reproducible_by_seed(tiny_model_dir):
    batch = requests_for(images(3))
    runs = [make_backend("transformers", model=str(tiny_model_dir), max_new_tokens=8,
                         temperature=1.5, seed=seed).generate(batch) for seed in (1, 1, 2)]
    texts = [[g.text for g in run] for run in runs]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]
