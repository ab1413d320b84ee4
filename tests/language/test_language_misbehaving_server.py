"""The openai backend against a real local server that misbehaves in every way seen in issue 10.

Every malformed response is one failed attempt of one request (retried, then an error the caller
falls back on), never an exception out of `generate`; a dead server fails fast at setup; a server
that dies mid-run, and a run past its deadline, stop the step (BackendUnavailable).
"""

from __future__ import annotations

import time

import pytest

from annotators.backends import (
    Generation,
    Request,
    choice_probabilities,
    make_backend,
    user_message,
)
from annotators.backends.base import BackendUnavailable, take_counters
from annotators.backends.shortfall import shortfall_problem
from annotators.describe.asking import Job, ask_all, json_parser
from annotators.scoring.judge import read_score

from .fake_openai import FakeServer, closed_port_url

FAST = {"timeout_s": 0.5, "attempts": 3, "retry_backoff_s": 0.01, "connect_timeout_s": 2.0}


def ask(n: int = 1, **extra) -> list[Request]:
    return [Request(messages=[user_message(f"Rate sample {i}.")], **extra) for i in range(n)]


MALFORMED = ["nonjson", "html", "null_message", "no_choices", "huge_logprob", "nan_logprob",
             "hang", "500", "429", "close"]
KIND = {"nonjson": "malformed", "html": "malformed", "null_message": "malformed",
        "no_choices": "malformed", "huge_logprob": "malformed", "nan_logprob": "malformed",
        "hang": "timeout", "500": "http_5xx", "429": "http_429", "close": "connection"}


@pytest.mark.parametrize("mode", MALFORMED)
def test_one_bad_response_is_one_failed_attempt_then_the_retry_answers(mode):
    with FakeServer(answer="4") as server:
        backend = make_backend("openai", base_url=server.url, concurrency=1, **FAST)
        server.script = [mode]
        [generation] = backend.generate(ask(want_first_token_logprobs=True))
        assert generation.ok, generation.error
        assert generation.text == "4"
        assert server.posts == 2
        counters = take_counters(backend)
        assert counters[f"failed_attempts_{KIND[mode]}"] == 1
        assert counters["retries"] == 1 and counters["failed_requests"] == 0


@pytest.mark.parametrize("mode", ["nonjson", "html", "null_message", "huge_logprob", "500", "429"])
def test_a_response_bad_every_time_is_an_error_after_the_attempts_not_an_exception(mode):
    with FakeServer(default=mode) as server:
        backend = make_backend("openai", base_url=server.url, concurrency=2,
                               max_consecutive_failures=100, **FAST)
        generations = backend.generate(ask(3, want_first_token_logprobs=True))
        assert [g.ok for g in generations] == [False] * 3
        assert {g.error_kind for g in generations} == {KIND[mode]}
        assert all("after 3 attempt(s)" in g.error for g in generations)
        assert server.posts == 9  # 3 requests x 3 attempts
        counters = take_counters(backend)
        assert counters["failed_requests"] == 3 and counters["requests"] == 3


def test_a_huge_logprob_never_overflows_and_never_becomes_a_score():
    generation = Generation(text="3", first_token_logprobs={"3": 1000.0, "4": -1.0})
    probabilities = choice_probabilities(generation, list("012345"))
    assert probabilities is not None and probabilities["3"] == pytest.approx(1.0)
    assert choice_probabilities(Generation(text="3", first_token_logprobs={"3": float("nan")}),
                                list("012345")) is None
    masked = choice_probabilities(Generation(text="3", first_token_logprobs={
        "3": -0.1, "4": float("-inf")}), list("012345"))
    assert masked["3"] == pytest.approx(1.0) and masked["4"] == 0.0  # -inf is p = 0, not an error
    with FakeServer(default="huge_logprob") as server:
        backend = make_backend("openai", base_url=server.url, **FAST)
        [generation] = backend.generate(ask(choices=list("012345"), want_first_token_logprobs=True))
        score, reason = read_score(generation, score_mode="expected")
        assert score is None and "malformed" in reason


def test_a_refused_connection_fails_at_setup_within_seconds_naming_the_url():
    url = closed_port_url()
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=url.replace(".", r"\.")):
        make_backend("openai", base_url=url)
    assert time.monotonic() - started < 5


def test_a_server_that_accepts_but_never_answers_fails_at_setup_within_the_connect_timeout():
    with FakeServer(models_hang=True) as server:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="no OpenAI-compatible server answers"):
            make_backend("openai", base_url=server.url, connect_timeout_s=1.0)
        assert time.monotonic() - started < 4


def test_a_server_that_dies_mid_run_stops_the_step_instead_of_falling_back_item_by_item():
    with FakeServer(default="500") as server:
        backend = make_backend("openai", base_url=server.url, concurrency=2,
                               max_consecutive_failures=4, **FAST)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="failed 4 requests in a row"):
            backend.generate(ask(50))
        assert server.posts < 12  # it stopped, it did not try 50 x 3 times
        assert time.monotonic() - started < 5


def test_the_deadline_bounds_a_hanging_server():
    with FakeServer(default="hang") as server:
        backend = make_backend("openai", base_url=server.url, concurrency=2, timeout_s=30,
                               attempts=4, deadline_s=1.0, retry_backoff_s=0.01,
                               max_consecutive_failures=100)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="deadline of 1 s"):
            backend.generate(ask(4))
        assert time.monotonic() - started < 5


def test_ask_all_falls_back_at_once_on_a_backend_error_and_counts_it():
    with FakeServer(default="html") as server:
        backend = make_backend("openai", base_url=server.url, concurrency=1,
                               max_consecutive_failures=100, **FAST)
        parser = json_parser(("short",))
        jobs = [Job(Request(messages=[user_message("Describe.")], template_answer='{"short": "a car"}'),
                    parser) for _ in range(2)]
        answers = ask_all(backend, jobs, max_retries=2)
        assert [a.source for a in answers] == ["template-fallback"] * 2
        assert "malformed" in answers[0].problem
        assert server.posts == 6  # 3 transport attempts each, no re-ask on top
        counters = take_counters(backend)
        assert counters["template_fallbacks"] == 2 and counters["model_answers"] == 0
        problem = shortfall_problem("describe", counters, 0.1)
        assert problem and "2 of 2 model answers" in problem and "malformed 6" in problem


def test_a_healthy_server_is_used_and_counted_as_model_answers():
    with FakeServer(answer='{"short": "a red car"}') as server:
        backend = make_backend("openai", base_url=server.url, **FAST)
        assert backend.model == "fake"  # discovered from /v1/models
        jobs = [Job(Request(messages=[user_message("Describe.")], template_answer='{"short": "x"}'),
                    json_parser(("short",)))]
        [answer] = ask_all(backend, jobs)
        assert answer.source == "model" and answer.value["short"] == "a red car"
        counters = take_counters(backend)
        assert counters["model_answers"] == 1
        assert shortfall_problem("describe", counters, 0.1) is None


def test_a_refused_key_or_an_unlisted_model_is_a_clear_setup_error():
    with FakeServer(models_status=401) as server:
        with pytest.raises(ValueError, match="refused the API key \\(HTTP 401\\)"):
            make_backend("openai", model="m", base_url=server.url, **FAST)
    with FakeServer(models_status=404) as server:
        with pytest.raises(ValueError, match="does not list its models \\(HTTP 404\\); pass --model"):
            make_backend("openai", base_url=server.url, **FAST)
        assert make_backend("openai", model="m", base_url=server.url, **FAST).model == "m"
