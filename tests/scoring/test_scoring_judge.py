"""The LMM judge end to end on a tiny random-weight LLaVA through the transformers backend."""

from __future__ import annotations

import numpy as np
import pytest

from annotators.backends import Generation, make_backend
from annotators.backends.tiny_model import build_tiny_llava
from annotators.scoring.judge import LMMJudge, read_score
from annotators.scoring.samples import prepare
from pipelines.engine.runner import run_stage
from pipelines.stages.score import ScoreStage
from schemas.contract import CAPABILITY_FIELDS


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    return str(build_tiny_llava(tmp_path_factory.mktemp("tiny-llava")))


def samples():
    return [prepare([{"from": "human", "value": "<image>\nWhat is shown?"},
                     {"from": "gpt", "value": "A cat on a sofa."}]),
            prepare([{"from": "human", "value": "Is it day?"}, {"from": "gpt", "value": "yes"}])]


def test_judge_expected_value_from_logprobs(tiny_llava):
    backend = make_backend("transformers", model=tiny_llava, max_new_tokens=2)
    image = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    result = LMMJudge(backend, score_mode="expected").score(samples(), [image, None])
    assert result.scores.shape == (2, len(CAPABILITY_FIELDS))
    assert result.counters["scores_from_logprobs"] == 28 and result.counters["scores_parsed"] == 0
    assert np.isfinite(result.scores).all()
    assert ((result.scores >= 0) & (result.scores <= 5)).all()


def test_judge_strict_int_by_default(tiny_llava):
    backend = make_backend("transformers", model=tiny_llava, max_new_tokens=2)
    result = LMMJudge(backend).score(samples(), [None, None])
    assert sum(result.counters.values()) == 28  # every answer parsed or counted with its reason
    assert result.counters["scores_from_logprobs"] == 0
    finite = result.scores[np.isfinite(result.scores)]
    assert set(np.unique(finite)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    nulls = int(np.isnan(result.scores).sum())
    assert nulls == sum(len(n) for n in result.notes) == 28 - result.counters["scores_parsed"]


def test_read_score_modes():
    assert read_score(Generation(text="I'd say 4 out of 5")) == (None, "unparseable_score: \"I'd say 4 out of 5\"")
    assert read_score(Generation(text=" 4\n")) == (4.0, None)
    value, reason = read_score(Generation(text="6"))
    assert value is None and reason == "out_of_scale_score: 6"
    value, reason = read_score(Generation(error="timeout"))
    assert value is None and "timeout" in reason
    probabilities = {"3": np.log(0.5), " 5": np.log(0.25), "x": np.log(0.25)}
    with_logprobs = Generation(text="3", first_token_logprobs=probabilities)
    assert read_score(with_logprobs, "expected")[0] == pytest.approx((3 * 0.5 + 5 * 0.25) / 0.75)
    assert read_score(with_logprobs)[0] == 3.0  # the default ignores logprobs


@pytest.mark.slow
def test_score_stage_with_the_tiny_judge_and_lmm_styler(tiny_llava, instructions_dir):
    stage = ScoreStage(batch_size=4, backend="transformers", model=tiny_llava, styler="lmm",
                       score_mode="expected")
    stats = run_stage(stage, instructions_dir, progress=False)
    rows = instructions_dir.read("instructions").to_pylist()
    assert stats.rows_out == len(rows) == 8
    for row in rows:
        values = list(row["capability_scores"].values())
        assert all(v is not None and 0 <= v <= 5 for v in values)
        assert all(isinstance(style, str) for style in row["styles"])  # free text, split on ","
        assert row["provenance"]["backend"] == "transformers"
        assert row["provenance"]["prompt_id"] == "mmssr-ss"
    assert instructions_dir.stats()["stages"]["score"]["counters"]["scores_from_logprobs"] == 8 * 14
