"""Options of the describe stage (descriptions + grounded SegCap captions); CLI and recipe build these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DescribeBackend = Literal["template", "transformers", "openai", "vllm"]
DescribeTask = Literal["root", "subtree", "panoptic", "referring", "region_caption"]


class ModelCallOptions(BaseModel):
    """How model calls may fail before a step stops (shared by describe and score).

    A request is tried `attempts` times, each bounded by `timeout_s` (openai backend); a server
    that does not answer within `connect_timeout_s` when the step starts, or fails
    `max_consecutive_failures` requests in a row, or outlasts `deadline_s`, stops the step. A
    step whose share of answers not given by the model exceeds `max_fallback_share` exits
    non-zero (the template/rules backends are exempt: they never fall back).
    """

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(120.0, gt=0)  # openai: one attempt of one request
    attempts: int = Field(3, ge=1, le=20)  # openai: tries per request (timeouts, 5xx, 429, bad bodies)
    deadline_s: float | None = Field(None, gt=0)  # openai: all model calls of a step (per worker)
    connect_timeout_s: float = Field(5.0, gt=0)  # openai: the reachability check at setup
    max_consecutive_failures: int = Field(8, ge=1)  # openai: dead-server failures in a row
    max_fallback_share: float = Field(0.1, ge=0.0, le=1.0)

    def call_options(self) -> dict:
        """Constructor options of the openai backend that bound its calls."""
        return {"timeout_s": self.timeout_s, "attempts": self.attempts,
                "deadline_s": self.deadline_s, "connect_timeout_s": self.connect_timeout_s,
                "max_consecutive_failures": self.max_consecutive_failures}


class DescribeOptions(ModelCallOptions):
    model_config = ConfigDict(extra="forbid")

    backend: DescribeBackend = "template"
    # A local folder or hub id (transformers, vllm); the served model name (openai, optional).
    model: str | None = None
    base_url: str | None = None  # openai: e.g. http://localhost:8000/v1
    api_key_env: str = "OPENAI_API_KEY"  # openai: the variable holding the key, never the key
    server: Literal["generic", "vllm"] = "generic"  # "vllm": also send vLLM structured outputs
    device: str = "cpu"  # transformers: "cpu", "cuda", "cuda:1", ...
    trust_remote_code: bool = False
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)  # 0 = greedy
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int = 0
    model_batch_size: int = Field(16, ge=1)  # transformers: prompts per forward pass
    concurrency: int = Field(8, ge=1)  # openai: requests in flight
    # Bad answers are re-asked this many times, then replaced by the template answer
    # (on_failure="fallback", recorded in provenance) or quarantined in rejects ("reject").
    max_retries: int = Field(2, ge=0, le=10)
    on_failure: Literal["fallback", "reject"] = "fallback"
    tasks: list[DescribeTask] = Field(
        default_factory=lambda: ["root", "subtree", "panoptic", "referring", "region_caption"])
    max_instances: int = Field(20, ge=1)  # largest instances per image that are described
    # Which masks an image is described from, one source per image, never mixed: "auto" = its
    # annotations (gt/box) where it has them, else its best mined hierarchy; "gt" / "mined" force one.
    mask_source: Literal["auto", "gt", "mined"] = "auto"
    max_subtrees: int = Field(3, ge=0)  # instances per image that get a subtree caption
    track_samples: int = Field(3, ge=1)  # frames per video (scene) and crops per track
    # Generation cache: a SQLite file; None = <dataset>/.cache/describe.sqlite. use_cache=False: off.
    cache_path: str | None = None
    use_cache: bool = True

    @field_validator("model", "base_url")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    def backend_options(self) -> dict:
        """Constructor options of the chosen backend (see annotators.backends.make_backend)."""
        sampling = {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                    "top_p": self.top_p, "seed": self.seed}
        if self.backend == "transformers":
            return {**sampling, "device": self.device, "max_batch_size": self.model_batch_size,
                    "trust_remote_code": self.trust_remote_code}
        if self.backend == "openai":
            return {**sampling, "api_key_env": self.api_key_env, "concurrency": self.concurrency,
                    "server": self.server, **self.call_options()}
        if self.backend == "vllm":
            return {**sampling, "trust_remote_code": self.trust_remote_code}
        return {}
