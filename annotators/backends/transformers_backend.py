"""In-process LMM through transformers: AutoProcessor + AutoModelForImageTextToText, batched.

Prompts are LEFT-padded so every row's generated tokens start at the same column. Requests with
and without images are generated in separate sub-batches (a processor cannot mix them).
JSON schemas are not enforced token by token here (no grammar engine in transformers): describers
ask for JSON in the prompt, validate, and re-prompt; `choices` are enforced exactly by scoring
each choice's first token.
"""

from __future__ import annotations

from annotators.backends.base import TOP_LOGPROBS, Backend, Generation, Request, to_pil
from annotators.model_loading import load_failure, resolve_model


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, model: str | None = None, *, device: str = "cpu", dtype: str = "auto",
                 max_batch_size: int = 16, trust_remote_code: bool = False, **sampling):
        if not model:
            raise ValueError("the transformers backend needs --model (a local folder or hub id)")
        super().__init__(model, **sampling)
        target = resolve_model(model, "transformers model")  # a bad name fails in seconds
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self._torch = torch
        self.device = device
        self.max_batch_size = max_batch_size
        try:
            self.processor = AutoProcessor.from_pretrained(target, trust_remote_code=trust_remote_code)
            self.net = AutoModelForImageTextToText.from_pretrained(
                target, dtype=dtype, trust_remote_code=trust_remote_code).to(device).eval()
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise load_failure(model, exc) from None
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _generate(self, requests: list[Request]) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        with_images = [i for i, r in enumerate(requests) if r.images]
        without = [i for i, r in enumerate(requests) if not r.images]
        for group in (with_images, without):
            for start in range(0, len(group), self.max_batch_size):
                chunk = group[start:start + self.max_batch_size]
                try:
                    outputs = self._run_chunk([requests[i] for i in chunk])
                except Exception as exc:  # a broken chunk is reported per request, never raised
                    outputs = [Generation(error=f"{type(exc).__name__}: {exc}", error_kind="exception") for _ in chunk]
                for i, output in zip(chunk, outputs, strict=True):
                    results[i] = output
        return results  # type: ignore[return-value]

    def _run_chunk(self, chunk: list[Request]) -> list[Generation]:
        torch = self._torch
        texts = [self.processor.apply_chat_template(r.messages, add_generation_prompt=True,
                                                    tokenize=False) for r in chunk]
        images = [[to_pil(im) for im in r.images] for r in chunk] if chunk[0].images else None
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        needs_scores = any(r.want_first_token_logprobs or r.choices for r in chunk)
        sampled = self.temperature > 0
        kwargs = {"do_sample": sampled, "max_new_tokens": self.max_new_tokens,
                  "output_scores": needs_scores, "return_dict_in_generate": True,
                  "pad_token_id": self.tokenizer.pad_token_id}
        if sampled:
            torch.manual_seed(self.seed)
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
        with torch.inference_mode():
            out = self.net.generate(**inputs, **kwargs)
        new_tokens = out.sequences[:, inputs["input_ids"].shape[1]:]
        texts_out = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        first = torch.log_softmax(out.scores[0].float(), dim=-1) if needs_scores else None
        return [self._finish(r, text, None if first is None else first[row])
                for row, (r, text) in enumerate(zip(chunk, texts_out, strict=True))]

    def _finish(self, request: Request, text: str, first_logprobs) -> Generation:
        if first_logprobs is None:
            return Generation(text=text.strip())
        logprobs = self._top_tokens(first_logprobs)
        if request.choices:
            scored = self._choice_logprobs(first_logprobs, request.choices)
            if scored is not None:
                logprobs.update(scored)
                best = max(scored, key=scored.get)
                return Generation(text=best, first_token_logprobs=logprobs)
        return Generation(text=text.strip(),
                          first_token_logprobs=logprobs if request.want_first_token_logprobs else None)

    def _top_tokens(self, logprobs) -> dict[str, float]:
        values, ids = logprobs.topk(min(TOP_LOGPROBS, logprobs.shape[-1]))
        return {self.tokenizer.decode([int(i)]): float(v) for v, i in zip(values, ids, strict=True)}

    def _choice_logprobs(self, logprobs, choices: list[str]) -> dict[str, float] | None:
        """Each choice scored by its first token; None if two choices share a first token."""
        first_ids = {}
        for choice in choices:
            ids = self.tokenizer.encode(choice, add_special_tokens=False)
            if not ids:
                return None
            first_ids[choice] = ids[0]
        if len(set(first_ids.values())) != len(first_ids):
            return None
        return {choice: float(logprobs[token]) for choice, token in first_ids.items()}
