"""Any OpenAI-compatible chat server (vllm serve, transformers serve, SGLang) via the openai client.

Requests run concurrently (a bounded thread pool). Nothing a server sends back can abort a
stage: every failure of one request (timeout, refused connection, HTTP 429/5xx, an HTTP 200
whose body is not a chat completion, a null message, a logprob that is not a log-probability)
is one failed attempt of that request, retried with backoff up to `attempts` times, then
returned as a `Generation` with `error`/`error_kind` set (the caller falls back or rejects).

The retry loop is ours, not the openai client's (`max_retries=0` there): the client retries only
transport errors, while a malformed 200 must count as a failed attempt too, and every attempt
must be counted and bounded by the step's deadline.

Three things fail the step instead (`BackendUnavailable`): no server answering at `base_url`
when the backend is built (checked within `connect_timeout_s`), `max_consecutive_failures`
server failures in a row (refused/timeout/5xx: the server died mid-run), and `deadline_s`
seconds of model calls spent. Falling back item by item in those cases would write a dataset
of template answers that looks like a model's.

`response_format` carries a JSON schema; with `server="vllm"` choice lists go as vLLM
`structured_outputs` too. First-token logprobs are asked for when wanted and returned when the
server provides them (vLLM does; transformers serve ignores the field, so they come back None).
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from annotators.backends.base import (
    TOP_LOGPROBS,
    Backend,
    BackendUnavailable,
    Generation,
    Request,
    openai_messages,
)

# Failures that say "the server is not serving" (they make up the consecutive-failure streak);
# 429 and malformed bodies come from a live server, so they do not.
SERVER_DOWN_KINDS = ("connection", "timeout", "http_5xx")
RETRYABLE_KINDS = (*SERVER_DOWN_KINDS, "http_429", "malformed")
MAX_BACKOFF_S = 10.0
MAX_RETRY_AFTER_S = 30.0
# A logprob is <= 0; a tiny positive value is float noise, anything larger is a broken server.
LOGPROB_SLACK = 1e-3


class MalformedResponse(ValueError):
    """An HTTP 200 whose body is not a usable chat completion."""


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str | None = None, *, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, timeout_s: float = 120.0,
                 attempts: int = 3, deadline_s: float | None = None, connect_timeout_s: float = 5.0,
                 max_consecutive_failures: int = 8, retry_backoff_s: float = 0.5,
                 server: str = "generic", **sampling):
        import httpx
        from openai import OpenAI

        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError("the openai backend needs --base-url (e.g. http://localhost:8000/v1)")
        self.base_url = base_url
        self.timeout_s, self.attempts, self.deadline_s = timeout_s, max(1, attempts), deadline_s
        self.connect_timeout_s = connect_timeout_s
        self.max_consecutive_failures = max(1, max_consecutive_failures)
        self.retry_backoff_s = retry_backoff_s
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env, "EMPTY"),
                             timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
                             max_retries=0)
        model = self._check_reachable(model)
        super().__init__(model, **sampling)
        self.concurrency = concurrency
        self.server = server
        self._lock = threading.Lock()
        self._streak = 0  # consecutive server-down failures, over all threads
        self._broken: str | None = None  # why the step must stop
        self._started: float | None = None  # first request: the deadline counts from here
        self.counters.clear()  # created here, before worker threads touch it

    def params(self) -> dict:
        # timeouts and attempts do not change an answer, so they stay out of the cache key
        return {**super().params(), "server": self.server}

    # ---- setup ------------------------------------------------------------------------------
    def _check_reachable(self, model: str | None) -> str:
        """Fail fast (within connect_timeout_s) when nothing serves at base_url; find the model."""
        from openai import APIConnectionError, APIStatusError

        quick = self.client.with_options(timeout=self.connect_timeout_s, max_retries=0)
        try:
            listed = quick.models.list()
            served = [m.id for m in (getattr(listed, "data", None) or []) if getattr(m, "id", None)]
        except APIConnectionError as exc:  # includes APITimeoutError
            raise BackendUnavailable(
                f"no OpenAI-compatible server answers at {self.base_url} within "
                f"{self.connect_timeout_s:g} s ({type(exc).__name__}); start the server or fix "
                "--base-url") from None
        except APIStatusError as exc:
            if exc.status_code in (401, 403):  # every request would fail the same way
                raise ValueError(f"the server at {self.base_url} refused the API key (HTTP "
                                 f"{exc.status_code}); set the variable named by api_key_env "
                                 "(default OPENAI_API_KEY)") from None
            if model:  # the server is there; it just does not list models
                return model
            raise ValueError(f"the server at {self.base_url} does not list its models "
                             f"(HTTP {exc.status_code}); pass --model") from None
        except (ValueError, TypeError, AttributeError) as exc:  # a body that is not a model list
            if model:
                return model
            raise ValueError(f"the server at {self.base_url} answered /models with something "
                             f"that is not a model list ({type(exc).__name__}); pass --model") from None
        if model:
            return model
        if not served:
            raise ValueError(f"the server at {self.base_url} serves no model; pass --model")
        return served[0]

    # ---- calls ------------------------------------------------------------------------------
    def _generate(self, requests: list[Request]) -> list[Generation]:
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            results = list(pool.map(self._one, requests))
        if self._broken is not None:
            raise BackendUnavailable(self._broken)
        return results

    def _remaining(self) -> float | None:
        if self.deadline_s is None or self._started is None:
            return None
        return self.deadline_s - (time.monotonic() - self._started)

    def _stop_reason(self) -> str | None:
        if self._broken is None:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                with self._lock:
                    self._broken = self._broken or (
                        f"the deadline of {self.deadline_s:g} s for model calls to {self.base_url} "
                        "passed; raise --deadline-s or make the server faster")
        return self._broken

    def _one(self, request: Request) -> Generation:
        try:
            kwargs = self._kwargs(request)
        except Exception as exc:  # e.g. an image that cannot be encoded: this request only
            return Generation(error=f"{type(exc).__name__}: {exc}", error_kind="exception")
        error, kind = "", ""
        for attempt in range(1, self.attempts + 1):
            stop = self._stop_reason()
            if stop is not None:
                return Generation(error=stop, error_kind="unavailable")
            try:
                generation = self._attempt(kwargs)
                self._note_success()
                return generation
            except Exception as exc:  # every failure is one failed attempt, never a stage abort
                kind, error, retry_after = _classify(exc)
            self._note_failure(kind)
            if kind not in RETRYABLE_KINDS or attempt == self.attempts:
                break
            wait = retry_after if retry_after is not None else self.retry_backoff_s * 2 ** (attempt - 1)
            remaining = self._remaining()
            wait = min(wait, MAX_BACKOFF_S if retry_after is None else MAX_RETRY_AFTER_S)
            if remaining is not None:
                wait = min(wait, max(0.0, remaining))
            with self._lock:
                self.counters["retries"] += 1
            time.sleep(wait)
        return Generation(error=f"{kind} after {attempt} attempt(s): {error}", error_kind=kind)

    def _kwargs(self, request: Request) -> dict:
        kwargs = {"model": self.model, "messages": openai_messages(request),
                  "max_tokens": self.max_new_tokens, "temperature": self.temperature,
                  "top_p": self.top_p, "seed": self.seed}
        if request.json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema},
            }
        if request.choices and self.server == "vllm":
            kwargs["extra_body"] = {"structured_outputs": {"choice": request.choices}}
        if request.want_first_token_logprobs or request.choices:
            kwargs.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        return kwargs

    def _attempt(self, kwargs: dict) -> Generation:
        from openai import BadRequestError

        timeout = self.timeout_s
        remaining = self._remaining()
        if remaining is not None:
            timeout = max(0.1, min(timeout, remaining))
        client = self.client.with_options(timeout=timeout) if timeout != self.timeout_s else self.client
        try:
            response = client.chat.completions.create(**kwargs)
        except BadRequestError:
            if "response_format" not in kwargs and "extra_body" not in kwargs:
                raise
            # a server without structured outputs: ask again with the schema in the prompt only
            kwargs.pop("response_format", None)
            kwargs.pop("extra_body", None)
            response = client.chat.completions.create(**kwargs)
        return read_completion(response)

    def _note_success(self) -> None:
        with self._lock:
            self._streak = 0

    def _note_failure(self, kind: str) -> None:
        with self._lock:
            self.counters[f"failed_attempts_{kind}"] += 1
            if kind not in SERVER_DOWN_KINDS:
                self._streak = 0  # the server answered: it is alive
                return
            self._streak += 1
            if self._streak >= self.max_consecutive_failures and self._broken is None:
                self._broken = (f"the server at {self.base_url} failed {self._streak} requests in "
                                f"a row (last: {kind}); the step stops instead of falling back "
                                "item by item. Check the server, then rerun")

    def close(self) -> None:
        self.client.close()


def _classify(exc: Exception) -> tuple[str, str, float | None]:
    """(kind, message, seconds the server asked us to wait) of one failed attempt."""
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    message = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, APITimeoutError):
        return "timeout", message, None
    if isinstance(exc, APIConnectionError):
        return "connection", message, None
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        if status == 429:
            return "http_429", message, _retry_after(exc)
        return ("http_5xx" if status >= 500 else "http_4xx"), message, None
    return "malformed", message, None


def _retry_after(exc) -> float | None:
    value = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


def read_completion(response) -> Generation:
    """The text and first-token logprobs of a chat completion; MalformedResponse if it is not one
    (the openai client hands back a plain str for a non-JSON 200, and builds objects with None
    fields from JSON of the wrong shape, without validating)."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"not a chat completion with choices: {str(response)[:120]!r}")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise MalformedResponse("the first choice has no message (message: null)")
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        raise MalformedResponse(f"message content is {type(content).__name__}, not text")
    return Generation(text=(content or "").strip(), first_token_logprobs=first_token_logprobs(choice))


def first_token_logprobs(choice) -> dict[str, float] | None:
    """token -> logprob for the first generated token, from an OpenAI chat `Choice`.

    A value that is NaN or above 0 is a broken server, not a log-probability (-inf is p = 0).
    """
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None)
    if logprobs is None or not content:
        return None
    first = content[0]
    table = {alt.token: alt.logprob for alt in (getattr(first, "top_logprobs", None) or [])}
    table.setdefault(first.token, first.logprob)
    for token, value in table.items():
        if not isinstance(token, str) or not isinstance(value, (int, float)) \
                or math.isnan(value) or value > LOGPROB_SLACK:  # -inf (probability 0) is fine
            raise MalformedResponse(f"logprob {value!r} of token {token!r} is not a log-probability")
    return table


def preflight(base_url: str | None, model: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
              connect_timeout_s: float = 5.0) -> str:
    """The reachability check alone (BackendUnavailable / ValueError), for commands that must
    fail before they touch the dataset directory. Returns the model name that would be used."""
    backend = OpenAIBackend(model, base_url=base_url, api_key_env=api_key_env,
                            connect_timeout_s=connect_timeout_s)
    backend.close()
    return backend.model
