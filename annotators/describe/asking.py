"""Ask a backend for many answers at once, check each, re-prompt the bad ones, then fall back.

Every job has a parser that turns text into a value or names the problem. Bad answers are
re-asked (with the problem stated) at most `max_retries` times, all pending jobs in one batch per
round. What is still bad then takes the job's template answer (recorded as a fallback) or is
rejected with its raw text. Nothing raises and nothing comes back silently empty.

A backend error (timeout, dead server, malformed body) is final for the job: the backend has
already retried that request `attempts` times, so re-asking here would only multiply the wait.
Every answer is counted on `backend.counters` by where it came from (model_answers,
template_fallbacks, answers_rejected): the stage sums these into stats.json and fails a step
whose fallback share is too high.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from annotators.backends.base import Backend, Request, assistant_message, user_message
from annotators.describe.prompts import REPAIR
from schemas.grounding import CLOSE, OPEN, SEG, key_tags_to_grounded

Parser = Callable[[str], tuple[Any, str | None]]


@dataclass
class Job:
    request: Request
    parse: Parser


@dataclass
class Answer:
    value: Any
    raw: str
    source: str  # "model" | "template-fallback" | "rejected"
    problem: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.source != "rejected"


def ask_all(backend: Backend, jobs: list[Job], *, max_retries: int = 2,
            fallback: bool = True) -> list[Answer]:
    requests = [job.request for job in jobs]
    answers: list[Answer | None] = [None] * len(jobs)
    last_raw = [""] * len(jobs)
    last_problem: list[str | None] = [None] * len(jobs)
    pending = list(range(len(jobs)))
    for attempt in range(1, max_retries + 2):
        generations = backend.generate([requests[i] for i in pending])
        still = []
        for i, generation in zip(pending, generations, strict=True):
            if generation.error is not None:
                value, problem = None, f"backend error: {generation.error}"
            else:
                value, problem = jobs[i].parse(generation.text)
            if problem is None:
                answers[i] = Answer(value, generation.text, "model", None, attempt)
                continue
            last_raw[i] = generation.text or generation.error or ""
            last_problem[i] = problem
            if generation.error is not None:
                continue  # retried by the backend already: fall back or reject now
            requests[i] = replace(requests[i], messages=[
                *requests[i].messages, assistant_message(generation.text),
                user_message(REPAIR.render(problem=problem))])
            still.append(i)
        pending = still
        if not pending:
            break
    failed = [i for i, answer in enumerate(answers) if answer is None]
    for i in failed:
        template = jobs[i].request.template_answer
        if fallback and template is not None:
            value, problem = jobs[i].parse(template)
            if problem is None:
                answers[i] = Answer(value, last_raw[i], "template-fallback", last_problem[i],
                                    max_retries + 1)
                continue
        answers[i] = Answer(None, last_raw[i], "rejected", last_problem[i], max_retries + 1)
    _count(backend, answers)
    return answers  # type: ignore[return-value]


ANSWER_COUNTERS = {"model": "model_answers", "template-fallback": "template_fallbacks",
                   "rejected": "answers_rejected"}


def _count(backend: Backend, answers: list[Answer]) -> None:
    counters = getattr(backend, "counters", None)
    if counters is not None:
        for answer in answers:
            counters[ANSWER_COUNTERS[answer.source]] += 1


def first_json_object(text: str) -> dict | None:
    """The first JSON object in the text (models often wrap it in prose or code fences)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def json_parser(required: tuple[str, ...], list_fields: tuple[str, ...] = ()) -> Parser:
    """Parse a JSON object whose `required` string fields are non-empty; lists of strings allowed."""

    def parse(text: str) -> tuple[dict | None, str | None]:
        value = first_json_object(text)
        if value is None:
            return None, "no JSON object found"
        for name in required:
            field = value.get(name)
            if name in list_fields:
                if not isinstance(field, list) or not all(isinstance(x, str) and x.strip() for x in field):
                    return None, f"field {name!r} must be a list of non-empty strings"
            elif not isinstance(field, str) or not field.strip():
                return None, f"field {name!r} is missing or empty"
        return value, None

    return parse


@dataclass
class TaggedCaption:
    text: str  # `<p> phrase </p> [SEG]` form
    keys: list[str]  # region keys in caption order (= mask order)
    spans: list[list[int]]


_ANY_TAG = re.compile(r"</?([A-Za-z][\w-]*)>")


def tagged_caption_parser(keys: list[str]) -> Parser:
    """Parse a caption where region K is written `<K>words</K>`; every key exactly once."""

    def parse(text: str) -> tuple[TaggedCaption | None, str | None]:
        text = text.strip()
        if any(marker in text for marker in (SEG, OPEN, CLOSE)):
            return None, "the caption must not contain <p>, </p> or [SEG] itself"
        unknown = sorted({m.group(1) for m in _ANY_TAG.finditer(text)} - set(keys))
        if unknown:
            return None, f"unknown tags {unknown}; use only {keys}"
        grounded, order, spans = key_tags_to_grounded(text, keys)
        missing = [k for k in keys if k not in order]
        repeated = sorted({k for k in order if order.count(k) > 1})
        if missing or repeated:
            return None, f"regions missing {missing}, repeated {repeated}"
        if _ANY_TAG.search(grounded.replace(OPEN, "").replace(CLOSE, "")):
            return None, "unbalanced region tags"
        if any(end <= start for start, end in spans):
            return None, "a region tag wraps no words"
        return TaggedCaption(grounded, order, spans), None

    return parse
