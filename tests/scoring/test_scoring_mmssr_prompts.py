"""mmSSR prompts byte for byte (REFERENCE.md section 5 vectors), strict parsing, and what a real
local OpenAI-compatible server receives from `ScoreStage`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from annotators.scoring import mmssr_prompts as mp
from pipelines.engine.runner import run_stage
from pipelines.stages.score import ScoreStage
from schemas.contract import CAPABILITY_FIELDS

QUERY = ("On a scale of 0 to 5, how do you rate the helpfulness of the VQA instance in training a "
         "Multimodal Large Language Model for object spatial understanding?")
VECTORS = [
    (["<image>\nWhat is the man holding?", "A red umbrella."],
     "Question: <image>\nWhat is the man holding? Answer: A red umbrella.\n" + QUERY),
    (["<image>\nHint: Please answer the question.\nQuestion: Which is the station?", "B"],
     "<image>\nHint: Please answer the question.\nQuestion: Which is the station? Answer: B\n" + QUERY),
    (["<image>\nDescribe the picture.", "A street.", "Is it raining?", "No."],
     "Question: <image>\nDescribe the picture. Answer: A street.\nQuestion: Is it raining? Answer: No.\n"
     + QUERY),
]
STYLE_TAIL = ("\nInteraction style candidates: [multi-choice, coordinate, yes/no, word/short-phrase, "
              "short description, detailed description, comparison, chain-of-thought (step-by-step), "
              "specified style]\nStyles: ")


@pytest.mark.parametrize(("values", "expected"), VECTORS)
def test_scorer_prompt_vectors(values, expected):
    assert mp.scorer_prompt(values, "object spatial understanding") == expected


@pytest.mark.parametrize(("values", "expected"), VECTORS)
def test_styler_prompt_vectors(values, expected):
    assert mp.styler_prompt(values) == expected[: -len(QUERY) - 1] + STYLE_TAIL


def test_the_reference_strip_quirk_and_an_unanswered_last_question():
    assert mp.serialise(["Describe the station", "ok"]) == "Question: Describe the sta Answer: ok"
    assert mp.serialise(["Hint: read it", "A", "Why?"]) == "Hint: read it Answer: A\nQuestion: Why? Answer: "


PARSE_CASES = [
    ("3", 3, None), (" 4", 4, None), ("5\n", 5, None), ("+2", 2, None), ("0", 0, None),
    ("\u0663", 3, None),  # Arabic-Indic digit three: int() accepts Unicode digits
    ("3.5", None, "unparseable"), ("3/5", None, "unparseable"), ("Score: 4", None, "unparseable"),
    ("4.", None, "unparseable"), ("4 (good)", None, "unparseable"), ("", None, "unparseable"),
    ("five", None, "unparseable"), ("4/5 stars", None, "unparseable"),
    ("-1", None, "out_of_scale"), ("7", None, "out_of_scale"), ("10", None, "out_of_scale"),
    ("1_0", None, "out_of_scale"),  # int("1_0") == 10
]


@pytest.mark.parametrize(("text", "value", "reason"), PARSE_CASES)
def test_strict_int_parsing(text, value, reason):
    parsed, why = mp.parse_score(text)
    assert parsed == value
    assert (why is None) if reason is None else why.startswith(reason)
    assert len(PARSE_CASES) == 18


def test_styles_split_on_commas_like_the_reference():
    assert mp.parse_styles("multi-choice, chain-of-thought (step-by-step),multi-choice") == [
        "multi-choice", "chain-of-thought (step-by-step)"]
    assert mp.parse_styles("Yes/No") == ["Yes/No"]  # no normalisation: the reference keeps it


def test_capability_keywords_default_and_override():
    keywords = mp.capability_keywords()
    assert keywords[0] == "object spatial understanding" and len(keywords) == 14
    custom = mp.capability_keywords({"optical_character_recognition": "OCR"})
    assert custom[-1] == "OCR" and custom[:-1] == keywords[:-1]
    with pytest.raises(ValueError, match="unknown capabilities"):
        mp.capability_keywords({"juggling": "x"})


class _Recorder(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible chat server: records every request body, answers per prompt."""

    bodies: list[dict] = []
    lock = threading.Lock()
    answer_all: str | None = None  # when set, the answer to every prompt

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.bodies.append(body)
        text = [p for p in body["messages"][-1]["content"] if p["type"] == "text"][0]["text"]
        if self.answer_all is not None:
            answer = self.answer_all
        elif text.endswith("Styles: "):
            answer = "multi-choice, chain-of-thought (step-by-step)"
        elif text.endswith("object spatial understanding?"):
            answer = "7"  # out of scale: must become null, with a reason
        elif text.endswith("humanities?"):
            answer = "Score: 4"  # unparseable for int()
        else:
            answer = " 3\n"
        reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    _Recorder.bodies = []
    _Recorder.answer_all = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", _Recorder.bodies
    server.shutdown()
    server.server_close()


def test_the_server_receives_the_reference_prompts(chat_server, instructions_dir, helpers):
    base_url, bodies = chat_server
    image_id = instructions_dir.read("instructions", ["image_id"]).column("image_id")[0].as_py()
    rows = [helpers.instruction(f"v{k}", image_id, [("human" if i % 2 == 0 else "gpt", v)
                                                    for i, v in enumerate(values)])
            for k, (values, _) in enumerate(VECTORS)]
    for table in ("instructions",):
        instructions_dir.remove_shards(table, "test")
        helpers.add_rows(instructions_dir, table, rows)
    instructions_dir.finalize()
    stage = ScoreStage(batch_size=8, backend="openai", model="mmssr-scorer", base_url=base_url,
                       styler="lmm")
    stats = run_stage(stage, instructions_dir, progress=False)
    assert len(bodies) == 3 * 15  # 14 scorer prompts + 1 styler prompt per sample
    received = [[p for p in b["messages"][-1]["content"] if p["type"] == "text"][0]["text"] for b in bodies]
    for _, expected in VECTORS:
        assert expected in received  # byte for byte, <image> kept in place
        assert expected[: -len(QUERY) - 1] + STYLE_TAIL in received
    for body in bodies:
        assert body["messages"][0] == {"role": "system",
                                       "content": [{"type": "text", "text": "You are a helpful assistant."}]}
        assert body["temperature"] == 0.0 and body["model"] == "mmssr-scorer"
        assert sum(p["type"] == "image_url" for p in body["messages"][-1]["content"]) == 1
        assert "structured_outputs" not in json.dumps(body)  # the answer is not constrained
    table = instructions_dir.read("instructions").to_pylist()
    assert len(table) == 3
    counters = instructions_dir.stats()["stages"]["score"]["counters"]
    assert counters["scores_out_of_scale_score"] == 3 and counters["scores_unparseable_score"] == 3
    assert counters["scores_parsed"] == 3 * 12
    expected_sha = mp.prompt_fingerprint(mp.capability_keywords())
    for row in table:
        scores = row["capability_scores"]
        assert scores["object_spatial_understanding"] is None and scores["humanities"] is None
        assert [scores[f] for f in CAPABILITY_FIELDS if f not in
                ("object_spatial_understanding", "humanities")] == [3.0] * 12
        assert "out_of_scale_score: 7" in row["scoring_notes"]
        assert "unparseable_score: 'Score: 4'" in row["scoring_notes"]
        assert row["styles"] == ["multi-choice", "chain-of-thought (step-by-step)"]
        provenance = row["provenance"]
        assert (provenance["backend"], provenance["model"], provenance["prompt_id"]) == (
            "openai", "mmssr-scorer", "mmssr-ss")
        assert provenance["prompt_sha256"] == expected_sha
    assert stats.rows_out == 3
    assert np.isfinite(stats.seconds)


def test_a_judge_that_never_answers_an_integer_fails_the_run(chat_server, instructions_dir):
    from typer.testing import CliRunner

    from flows.cli import app

    base_url, _ = chat_server
    _Recorder.answer_all = "This sample is very helpful."
    result = CliRunner().invoke(app, ["score", str(instructions_dir.path), "--backend", "openai",
                                      "--model", "m", "--base-url", base_url])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert "0 usable, 112 null (112 unparseable" in output and "gave no 0-5 integer" in output
