"""LMM backends behind one batched interface: transformers, openai, vllm, template.

`make_backend(name, model=None, base_url=None, **opts)` builds one; heavy libraries load only
inside the backend that needs them, so `import annotators.backends` works on any machine.
"""

from __future__ import annotations

from annotators.backends.base import (
    Backend,
    Generation,
    Request,
    assistant_message,
    choice_probabilities,
    user_message,
)

BACKENDS = ("template", "transformers", "openai", "vllm")


def make_backend(name: str, model: str | None = None, base_url: str | None = None, **opts) -> Backend:
    """Build a backend by name. `opts` go to its constructor (sampling, device, concurrency...)."""
    if name == "template":
        from annotators.backends.template import TemplateBackend

        return TemplateBackend(model)
    if name == "transformers":
        from annotators.backends.transformers_backend import TransformersBackend

        return TransformersBackend(model, **opts)
    if name == "openai":
        from annotators.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(model, base_url=base_url, **opts)
    if name == "vllm":
        from annotators.backends.vllm_backend import VLLMBackend

        return VLLMBackend(model, **opts)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "Generation", "Request", "assistant_message",
           "choice_probabilities", "make_backend", "user_message"]
