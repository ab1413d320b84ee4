"""Options of the verify stages: which verifier, its model, and its thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Verifier = Literal["rules", "clip", "lmm"]


class VerifyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifier: Verifier = Field("rules", description="rules (no weights) | clip | lmm")
    model: str | None = Field(None, description="clip: a CLIP/SigLIP folder or hub id; lmm: the "
                              "judge model")
    backend: Literal["transformers", "openai", "vllm"] | None = Field(
        None, description="lmm: the judge's backend (default: openai with --base-url, else "
        "transformers)")
    base_url: str | None = Field(None, description="lmm + openai: e.g. http://localhost:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: the environment variable "
                             "holding the key, never the key")
    device: str = Field("cpu", description="clip / transformers: cpu | cuda | cuda:N")
    trust_remote_code: bool = Field(False, description="allow model code from the checkpoint")
    timeout_s: float = Field(60.0, gt=0, description="openai: seconds per request")
    concurrency: int = Field(8, ge=1, description="openai: requests in flight")
    # clip: a fixed threshold, or None to calibrate on the dataset (its own-phrase similarities'
    # `calibration_quantile`, over up to `calibration_samples` samples); recorded in provenance.
    clip_threshold: float | None = Field(
        None, description="clip: a fixed similarity threshold (default: calibrated on the dataset)",
        json_schema_extra={"flag": "--threshold"})
    calibration_quantile: float = Field(0.05, gt=0.0, lt=1.0, description="clip: the calibrated "
                                        "threshold is this quantile of own-phrase similarities")
    calibration_samples: int = Field(256, ge=1, description="clip: samples the calibration reads")
    clip_margin: float = Field(0.0, ge=0.0, description="clip: a phrase fails when another "
                               "phrase is more similar to its mask by more than this")
    # The planner pins it per step so a resumed step writes the same time; never a flag.
    created_at: str | None = Field(None, description="pinned provenance time",
                                   json_schema_extra={"cli": False})

    @model_validator(mode="after")
    def _needs(self) -> VerifyOptions:
        if self.verifier == "clip" and not self.model:
            raise ValueError("the clip verifier needs `model`: a local folder or hub id of a "
                             "CLIP or SigLIP model")
        if self.verifier == "lmm":
            if self.backend is None:
                self.backend = "openai" if self.base_url else "transformers"
            if self.backend != "openai" and not self.model:
                raise ValueError(f"the lmm verifier with the {self.backend} backend needs `model`")
            if self.backend == "openai" and not self.base_url:
                raise ValueError("the lmm verifier with the openai backend needs `base_url`")
        elif self.backend is not None:
            raise ValueError(f"`backend` is for the lmm verifier, not {self.verifier}")
        return self

    def backend_options(self) -> dict:
        sampling = {"max_new_tokens": 2, "temperature": 0.0}
        if self.backend == "transformers":
            return {**sampling, "device": self.device, "trust_remote_code": self.trust_remote_code}
        if self.backend == "openai":
            return {**sampling, "api_key_env": self.api_key_env, "concurrency": self.concurrency,
                    "timeout_s": self.timeout_s}
        return {**sampling, "trust_remote_code": self.trust_remote_code}
