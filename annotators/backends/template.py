"""The weight-free backend: answers each request with the answer its describer built from evidence.

It is the embedded default (no GPU, no download) and deterministic: the same evidence always
gives the same text. A request without a template answer is an error, never an invented text.
"""

from __future__ import annotations

from annotators.backends.base import Backend, Generation, Request


class TemplateBackend(Backend):
    name = "template"

    def __init__(self, model: str | None = None, **_ignored):
        super().__init__(model or "template-v1")

    def params(self) -> dict:
        return {}

    def _generate(self, requests: list[Request]) -> list[Generation]:
        return [Generation(text=r.template_answer) if r.template_answer is not None
                else Generation(error="the template backend has no evidence-based answer for this request")
                for r in requests]
