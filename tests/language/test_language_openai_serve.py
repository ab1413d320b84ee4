"""The openai backend against a real `transformers serve` process serving the tiny LLaVA."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from annotators.backends import Request, choice_probabilities, make_backend, user_message
from annotators.describe.describer import ImageDescriber, ImageItem
from annotators.describe.segcap import row_problems
from annotators.synthetic import generate_scene

from .conftest import SCENE_SIZE, scene_segments

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    port = free_port()
    cli = Path(sys.executable).parent / "transformers"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen(
        [str(cli), "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port),
         "--device", "cpu", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited: {process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("transformers serve did not become ready in 120 s")
            time.sleep(0.5)
        yield base + "/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def picture_requests(n: int, **extra) -> list[Request]:
    rng = np.random.default_rng(3)
    return [Request(messages=[user_message(f"Describe image {i}.", 1)],
                    images=[rng.integers(0, 255, size=(28, 36, 3), dtype=np.uint8)], **extra)
            for i in range(n)]


def test_served_model_answers_like_the_in_process_one(served, tiny_model_dir):
    remote = make_backend("openai", base_url=served, max_new_tokens=6, concurrency=2)
    assert remote.model == str(tiny_model_dir)  # discovered from /v1/models
    local = make_backend("transformers", model=str(tiny_model_dir), max_new_tokens=6)
    batch = picture_requests(3, json_schema={"type": "object"})
    remote_out, local_out = remote.generate(batch), local.generate(batch)
    assert all(g.ok for g in remote_out), [g.error for g in remote_out]
    assert [g.text for g in remote_out] == [g.text for g in local_out]


def test_logprobs_missing_from_server_are_reported_as_none(served):
    remote = make_backend("openai", base_url=served, max_new_tokens=2)
    (generation,) = remote.generate(picture_requests(1, want_first_token_logprobs=True))
    assert generation.ok
    # transformers serve ignores `logprobs`; callers then read the text instead
    assert generation.first_token_logprobs is None
    assert choice_probabilities(generation, ["0", "1"]) is None


def test_describer_over_the_server_exports_only_aligned_rows(served):
    scene = generate_scene(2, SCENE_SIZE)
    item = ImageItem("img2", scene.pixels, scene_segments(scene, "img2"), "synthetic")
    backend = make_backend("openai", base_url=served, max_new_tokens=16, concurrency=4)
    result = ImageDescriber(backend, max_retries=1).describe([item])
    assert result.segcap and result.descriptions
    for row in result.segcap:
        assert row_problems(row) == []
    for row in result.descriptions:
        provenance = row["provenance"]
        # random weights never write valid JSON: the template answer is used, and said so
        assert provenance["backend"] == "template"
        assert f"openai:{backend.model}" in provenance["params_json"]


def test_unreachable_server_fails_at_setup_instead_of_falling_back_item_by_item():
    # issue 10: a dead server used to give a dataset of template fallbacks that looked like a
    # model's; now building the backend fails, naming the URL (more in test_language_misbehaving_server)
    from annotators.backends.base import BackendUnavailable

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    with pytest.raises(BackendUnavailable, match=url.replace(".", r"\.")):
        make_backend("openai", model="m", base_url=url, timeout_s=2)
