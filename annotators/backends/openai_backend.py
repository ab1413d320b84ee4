"""Any OpenAI-compatible chat server (vllm serve, transformers serve, SGLang) via the openai client.

Requests run concurrently (a bounded thread pool); the openai client does the timeouts and the
retries with exponential backoff. `response_format` carries a JSON schema; with
`server="vllm"` choice lists go as vLLM `structured_outputs` too. First-token logprobs are asked
for when wanted and returned when the server provides them (vLLM does; transformers serve ignores
the field, so they come back None and callers fall back to the text).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from annotators.backends.base import TOP_LOGPROBS, Backend, Generation, Request, openai_messages


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str | None = None, *, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 3, server: str = "generic", **sampling):
        from openai import OpenAI

        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError("the openai backend needs --base-url (e.g. http://localhost:8000/v1)")
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env, "EMPTY"),
                             timeout=timeout_s, max_retries=max_retries)
        if not model:
            served = [m.id for m in self.client.models.list().data]
            if not served:
                raise ValueError(f"the server at {base_url} serves no model; pass --model")
            model = served[0]
        super().__init__(model, **sampling)
        self.base_url = base_url
        self.concurrency = concurrency
        self.server = server

    def params(self) -> dict:
        return {**super().params(), "server": self.server}

    def _generate(self, requests: list[Request]) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(self._one, requests))

    def _one(self, request: Request) -> Generation:
        from openai import BadRequestError, OpenAIError

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
        try:
            try:
                response = self.client.chat.completions.create(**kwargs)
            except BadRequestError:
                if "response_format" not in kwargs and "extra_body" not in kwargs:
                    raise
                # a server without structured outputs: ask again with the schema in the prompt only
                kwargs.pop("response_format", None)
                kwargs.pop("extra_body", None)
                response = self.client.chat.completions.create(**kwargs)
        except OpenAIError as exc:
            return Generation(error=f"{type(exc).__name__}: {exc}")
        if not response.choices:
            return Generation(error="server returned no choices")
        choice = response.choices[0]
        return Generation(text=(choice.message.content or "").strip(),
                          first_token_logprobs=first_token_logprobs(choice))

    def close(self) -> None:
        self.client.close()


def first_token_logprobs(choice) -> dict[str, float] | None:
    """token -> logprob for the first generated token, from an OpenAI chat `Choice`."""
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is None or not logprobs.content:
        return None
    first = logprobs.content[0]
    table = {alt.token: alt.logprob for alt in (first.top_logprobs or [])}
    table.setdefault(first.token, first.logprob)
    return table
