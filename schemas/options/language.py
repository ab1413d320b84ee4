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

    timeout_s: float = Field(120.0, gt=0, description="openai: seconds per attempt of one request")
    attempts: int = Field(3, ge=1, le=20, description="openai: tries per request (timeouts, 5xx, "
                          "429, bad bodies)")
    deadline_s: float | None = Field(None, gt=0, description="openai: seconds for all model calls "
                                     "of a step (per worker); then the step fails")
    connect_timeout_s: float = Field(5.0, gt=0, description="openai: seconds the server has to "
                                     "answer the reachability check at setup")
    max_consecutive_failures: int = Field(8, ge=1, description="openai: dead-server failures in a "
                                          "row that stop the step")
    max_fallback_share: float = Field(0.1, ge=0.0, le=1.0, description="fail when more than this "
                                      "share of answers are not the model's (template fallbacks, "
                                      "rejects, null scores)")

    def call_options(self) -> dict:
        """Constructor options of the openai backend that bound its calls."""
        return {"timeout_s": self.timeout_s, "attempts": self.attempts,
                "deadline_s": self.deadline_s, "connect_timeout_s": self.connect_timeout_s,
                "max_consecutive_failures": self.max_consecutive_failures}


class DescribeOptions(ModelCallOptions):
    model_config = ConfigDict(extra="forbid")

    backend: DescribeBackend = Field("template", description="who writes: the template (no "
                                     "weights) or a model backend")
    model: str | None = Field(None, description="local folder, hub id (transformers, vllm), or "
                              "served model name (openai, optional)")
    base_url: str | None = Field(None, description="openai backend: e.g. http://localhost:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: the environment variable "
                             "holding the key, never the key")
    server: Literal["generic", "vllm"] = Field("generic", description="openai backend: vllm also "
                                               "sends vLLM structured outputs")
    device: str = Field("cpu", description="transformers backend: cpu | cuda | cuda:N")
    trust_remote_code: bool = Field(False, description="allow model code from the checkpoint")
    max_new_tokens: int = Field(256, ge=1, description="tokens per answer")
    temperature: float = Field(0.0, ge=0.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass")
    seed: int = Field(0, description="sampling seed")
    # The stage's batch is also the model's: one `--batch-size` sets both.
    model_batch_size: int = Field(16, ge=1, description="transformers: prompts per forward pass",
                                  json_schema_extra={"flag": "--batch-size"})
    concurrency: int = Field(8, ge=1, description="openai: requests in flight")
    # Bad answers are re-asked this many times, then replaced by the template answer
    # (on_failure="fallback", recorded in provenance) or quarantined in rejects ("reject").
    max_retries: int = Field(2, ge=0, le=10, description="re-asks of an unusable answer")
    on_failure: Literal["fallback", "reject"] = Field(
        "fallback", description="an answer still unusable: the template's (fallback) or a reject")
    tasks: list[DescribeTask] = Field(
        default_factory=lambda: ["root", "subtree", "panoptic", "referring", "region_caption"],
        description="comma list of root,subtree,panoptic,referring,region_caption",
        json_schema_extra={"parse": "comma_list"})
    max_instances: int = Field(20, ge=1, description="largest instances per image that are described")
    # Which masks an image is described from, one source per image, never mixed: "auto" = its
    # annotations (gt/box) where it has them, else its best mined hierarchy; "gt" / "mined" force one.
    mask_source: Literal["auto", "gt", "mined"] = Field(
        "auto", description="auto (annotations where an image has them, else mined) | gt | mined")
    max_subtrees: int = Field(3, ge=0, description="instances per image that get a subtree caption")
    track_samples: int = Field(3, ge=1, description="frames per video (scene) and crops per track")
    cache_path: str | None = Field(None, description="SQLite cache file (default "
                                   "DIR/.cache/describe.sqlite)", json_schema_extra={"flag": "--cache"})
    use_cache: bool = Field(True, description="read and write the generation cache (--no-cache: neither)",
                            json_schema_extra={"flag": "--no-cache"})

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
