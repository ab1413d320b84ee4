"""Offline vLLM in process (`vllm.LLM`), for GPU runs. vllm is an optional extra.

Only `__init__` and `_generate` touch vllm; message conversion (shared with the openai backend)
and output parsing (`vllm_first_token_logprobs`) are plain code tested without vllm.
"""

from __future__ import annotations

from annotators.backends.base import TOP_LOGPROBS, Backend, Generation, Request, openai_messages


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str | None = None, *, trust_remote_code: bool = False,
                 max_model_len: int | None = None, gpu_memory_utilization: float = 0.9,
                 limit_images_per_prompt: int = 4, **sampling):
        if not model:
            raise ValueError("the vllm backend needs --model (a local folder or hub id)")
        super().__init__(model, **sampling)
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ImportError("the vllm backend needs the `vllm` extra: pip install "
                              "'segcap-curator[vllm]' (GPU machine)") from exc
        engine = {"model": model, "trust_remote_code": trust_remote_code,
                  "gpu_memory_utilization": gpu_memory_utilization,
                  "limit_mm_per_prompt": {"image": limit_images_per_prompt}, "seed": self.seed}
        if max_model_len:
            engine["max_model_len"] = max_model_len
        self.llm = LLM(**engine)

    def sampling_params(self, request: Request):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = None
        if request.choices:
            structured = StructuredOutputsParams(choice=request.choices)
        elif request.json_schema is not None:
            structured = StructuredOutputsParams(json=request.json_schema)
        wants = request.want_first_token_logprobs or bool(request.choices)
        return SamplingParams(temperature=self.temperature, top_p=self.top_p,
                              max_tokens=self.max_new_tokens, seed=self.seed,
                              logprobs=TOP_LOGPROBS if wants else None,
                              structured_outputs=structured)

    def _generate(self, requests: list[Request]) -> list[Generation]:
        conversations = [openai_messages(r) for r in requests]
        params = [self.sampling_params(r) for r in requests]
        try:
            outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
        except Exception as exc:  # reported per request; the stage goes on
            return [Generation(error=f"{type(exc).__name__}: {exc}", error_kind="exception") for _ in requests]
        results = []
        for output in outputs:
            completion = output.outputs[0]
            results.append(Generation(text=completion.text.strip(),
                                      first_token_logprobs=vllm_first_token_logprobs(completion)))
        return results


def vllm_first_token_logprobs(completion) -> dict[str, float] | None:
    """token text -> logprob at the first position of a vLLM `CompletionOutput`."""
    if not getattr(completion, "logprobs", None):
        return None
    first = completion.logprobs[0]
    return {entry.decoded_token: entry.logprob for entry in first.values()
            if entry.decoded_token is not None}
