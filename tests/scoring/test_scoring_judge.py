"""The LMM judge end to end on a tiny random-weight LLaVA through the transformers backend."""

from __future__ import annotations

import numpy as np
import pytest

from annotators.backends import Generation, make_backend
from annotators.backends.tiny_model import build_tiny_llava
from annotators.scoring.judge import LMMJudge, read_score, scorer_prompt
from annotators.scoring.samples import prepare
from pipelines.runner import run_stage
from pipelines.score import ScoreStage
from schemas.contract import CAPABILITY_FIELDS, STYLES


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    return str(build_tiny_llava(tmp_path_factory.mktemp("tiny-llava")))


def samples():
    return [prepare([{"from": "human", "value": "<image>\nWhat is shown?"},
                     {"from": "gpt", "value": "A cat on a sofa."}]),
            prepare([{"from": "human", "value": "Is it day?"}, {"from": "gpt", "value": "yes"}])]


def test_prompt_has_the_mmssr_shape():
    prompt = scorer_prompt(samples()[0], "scene understanding")
    assert prompt.startswith("Question: What is shown?\nAnswer: A cat on a sofa.\n")
    assert prompt.endswith("in training a Multimodal Large Language Model for scene understanding?")


def test_judge_expected_value_from_logprobs(tiny_llava):
    backend = make_backend("transformers", model=tiny_llava, max_new_tokens=2)
    image = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    result = LMMJudge(backend, use_logprobs=True).score(samples(), [image, None])
    assert result.scores.shape == (2, len(CAPABILITY_FIELDS))
    assert result.expected_value == 28 and result.parsed == 0
    assert np.isfinite(result.scores).all()
    assert ((result.scores >= 0) & (result.scores <= 5)).all()
    assert (result.scores != np.round(result.scores)).any()  # expectations, not integers


def test_judge_parsed_integer_without_logprobs(tiny_llava):
    backend = make_backend("transformers", model=tiny_llava, max_new_tokens=2)
    result = LMMJudge(backend, use_logprobs=False).score(samples(), [None, None])
    assert result.parsed == 28 and result.expected_value == 0
    assert set(np.unique(result.scores)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_unparseable_answers_become_null_with_a_reason():
    assert read_score(Generation(text="I'd say 4 out of 5"), use_logprobs=True) == (4.0, None)
    value, reason = read_score(Generation(text="very helpful"), use_logprobs=True)
    assert value is None and reason.startswith("unparseable_score")
    value, reason = read_score(Generation(error="timeout"), use_logprobs=True)
    assert value is None and "timeout" in reason
    probabilities = {"3": np.log(0.5), " 5": np.log(0.25), "x": np.log(0.25)}
    assert read_score(Generation(text="3", first_token_logprobs=probabilities), True)[0] == \
        pytest.approx((3 * 0.5 + 5 * 0.25) / 0.75)


@pytest.mark.slow
def test_score_stage_with_the_tiny_judge_and_lmm_styler(tiny_llava, instructions_dir):
    stage = ScoreStage(batch_size=4, backend="transformers", model=tiny_llava, styler="lmm")
    stats = run_stage(stage, instructions_dir, progress=False)
    rows = instructions_dir.read("instructions").to_pylist()
    assert stats.rows_out == len(rows) == 8
    for row in rows:
        values = list(row["capability_scores"].values())
        assert all(v is not None and 0 <= v <= 5 for v in values)
        assert set(row["styles"]) <= set(STYLES)
    assert instructions_dir.stats()["stages"]["score"]["counters"]["scores_from_logprobs"] == 8 * 14
