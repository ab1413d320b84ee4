"""The model verifiers: an LMM judge over real HTTP, the tiny LLaVA, and a tiny CLIP.

Random-weight models judge at random, so those tests check the path (loading as a real
checkpoint loads, verdicts consistent with scores and thresholds, provenance); what the verdicts
mean is tested with the local judge server, whose answers the test decides.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from annotators.verify.clip import clip_verdicts
from annotators.verify.lmm import PASS_AT
from flows.cli import app

from .conftest import described_dataset, plant_pink

runner = CliRunner()


def read(dataset, config):
    return pq.read_table(sorted((dataset.path / config).glob("*.parquet"))).to_pylist()


class Judge(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat server that says "no" to any phrase with "pink" in it."""

    seen: list[dict] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # /v1/models
        self._send({"object": "list", "data": [{"id": "judge", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Judge.seen.append(body)
        parts = body["messages"][-1]["content"]
        text = " ".join(p.get("text", "") for p in parts if p["type"] == "text")
        answer = "no" if "pink" in text else "yes"
        other = "yes" if answer == "no" else "no"
        first = {"token": answer, "logprob": -0.05, "bytes": None,
                 "top_logprobs": [{"token": answer, "logprob": -0.05, "bytes": None},
                                  {"token": other, "logprob": -3.0, "bytes": None}]}
        self._send({"id": "x", "object": "chat.completion", "created": 0, "model": "judge",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer},
                                 "logprobs": {"content": [first]}}]})

    def _send(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def judge_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Judge.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_lmm_verifier_over_http_fails_the_phrases_the_judge_rejects(tmp_path, judge_url):
    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    wrong = plant_pink(dataset)
    result = runner.invoke(app, ["verify", str(dataset.path), "--verifier", "lmm",
                                 "--base-url", judge_url])
    assert result.exit_code == 0, result.output
    by_id = {r["sample_id"]: r for r in read(dataset, "segcap")}
    first = by_id[wrong]["verification"]
    assert first[0]["verdict"] == "fail" and first[0]["score"] < 0.1
    assert first[0]["verifier"] == "lmm" and first[0]["provenance"]["backend"] == "openai"
    others = [e for sid, r in by_id.items() for k, e in enumerate(r["verification"])
              if (sid, k) != (wrong, 0)]
    assert others and all(e["verdict"] == "pass" and e["score"] > 0.9 for e in others)
    # each request showed one image (the highlighted region) and asked about one phrase
    question = Judge.seen[0]["messages"][-1]["content"]
    assert [p["type"] for p in question] == ["image_url", "text"]
    assert question[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "yes or no" in question[1]["text"]


def test_lmm_verifier_with_the_tiny_llava(tmp_path):
    from annotators.backends.tiny_model import build_tiny_llava

    model = build_tiny_llava(tmp_path / "llava")
    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    result = runner.invoke(app, ["verify", str(dataset.path), "--verifier", "lmm",
                                 "--backend", "transformers", "--model", str(model)])
    assert result.exit_code == 0, result.output
    entries = [e for r in read(dataset, "segcap") for e in r["verification"]]
    assert entries and all(e["verifier"] == "lmm" for e in entries)
    for entry in entries:  # random weights: any verdict, but always the one its score implies
        if entry["score"] is None:
            assert entry["verdict"] == "unsure" and entry["reason"]
        elif entry["verdict"] == "pass":
            assert entry["score"] >= PASS_AT


def test_clip_verifier_calibrates_and_records_its_threshold(tmp_path):
    from annotators.backends.tiny_model import build_tiny_clip

    model = build_tiny_clip(tmp_path / "clip")
    dataset = described_dataset(tmp_path / "data", seeds=(0, 1))
    result = runner.invoke(app, ["verify", str(dataset.path), "--verifier", "clip",
                                 "--model", str(model)])
    assert result.exit_code == 0, result.output
    entries = [e for r in read(dataset, "segcap") for e in r["verification"]]
    params = json.loads(entries[0]["provenance"]["params_json"])
    assert params["calibrated"] is True and params["calibrated_on"] == len(entries)
    for entry in entries:
        assert entry["verifier"] == "clip"
        if entry["verdict"] == "pass":
            assert entry["score"] >= params["threshold"]
        else:
            assert entry["verdict"] == "fail"
            assert entry["score"] < params["threshold"] or entry["reason"].startswith("swap")


def test_clip_missing_model_is_one_clear_line(tmp_path):
    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    result = runner.invoke(app, ["verify", str(dataset.path), "--verifier", "clip"])
    assert result.exit_code == 2
    assert "needs `model`" in " ".join(result.output.split())


def test_clip_rule_catches_swapped_phrases():
    texts = ["a red car", "a green tree", "a blue robot"]
    sims = np.array([[0.30, 0.10, 0.05], [0.08, 0.31, 0.02], [0.04, 0.06, 0.29]])
    assert [v.verdict for v in clip_verdicts(sims, texts, 0.2, 0.0)] == ["pass"] * 3
    swapped = sims[:, [1, 0, 2]]  # regions 0 and 1 now carry each other's phrase
    verdicts = clip_verdicts(swapped, texts, 0.2, 0.0)
    assert [v.verdict for v in verdicts] == ["fail", "fail", "pass"]
    assert verdicts[0].reason.startswith("swap")
    # two identical phrases (two trees) are not a swap of each other
    same = clip_verdicts(np.array([[0.3, 0.31], [0.3, 0.3]]), ["a tree", "a tree"], 0.2, 0.0)
    assert [v.verdict for v in same] == ["pass", "pass"]


def test_clip_model_that_is_not_there_fails_fast_in_one_line(tmp_path):
    import time

    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    started = time.monotonic()
    result = runner.invoke(app, ["verify", str(dataset.path), "--verifier", "clip",
                                 "--model", str(tmp_path / "no-such-clip")])
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "does not exist" in output and "no-such-clip" in output
    assert time.monotonic() - started < 10


def test_lmm_verifier_sends_a_batch_of_captions_in_one_backend_call(tmp_path, judge_url):
    """vLLM and servers are fast only on batches: every phrase of a stage batch goes to the
    backend in one `generate` call, and each verdict lands on its own phrase."""
    from annotators.backends import make_backend
    from annotators.verify.model_runners import LmmRunner
    from pipelines.stages.verifiers import load_evidence
    from pipelines.stages.verify import VerifyStage
    from pipelines.store.side_inputs import SideInputs

    dataset = described_dataset(tmp_path / "data", seeds=(0, 1))
    rows = read(dataset, "segcap")
    rows[1]["conversations"][1]["value"] = rows[1]["conversations"][1]["value"].replace(
        "<p> ", "<p> pink ", 1)
    backend = make_backend("openai", base_url=judge_url)
    calls = []
    generate = backend.generate
    backend.generate = lambda requests: calls.append(len(requests)) or generate(requests)
    side = SideInputs(dataset.path, VerifyStage.side_inputs, "verify")
    evidence, _ = load_evidence(side, [r["image_id"] for r in rows])
    results = LmmRunner([], None, backend, "openai", "judge").verify_samples(rows, evidence)
    phrases = sum(len(entries) for entries, _ in results)
    assert calls == [phrases] and phrases > len(rows)
    from annotators.verify.captions import grounded_phrases

    # the judge says no exactly to phrases with "pink": each verdict landed on its own phrase
    for row, (entries, _) in zip(rows, results, strict=True):
        expected = ["fail" if "pink" in p.text else "pass" for p in grounded_phrases(row)]
        assert [e["verdict"] for e in entries] == expected
    assert results[1][0][0]["verdict"] == "fail"
