"""Provenance records: who made a row, with which model, prompt and parameters, and when."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import metadata


def pipeline_version() -> str:
    try:
        return metadata.version("segcap-curator")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def prompt_sha256(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def make_provenance(
    *,
    annotator: str,
    backend: str = "",
    model: str = "",
    prompt_id: str = "",
    prompt: str = "",
    params: dict | None = None,
    created_at: str | None = None,
) -> dict:
    return {
        "pipeline_version": pipeline_version(),
        "annotator": annotator,
        "backend": backend,
        "model": model,
        "prompt_id": prompt_id,
        "prompt_sha256": prompt_sha256(prompt) if prompt else "",
        "params_json": json.dumps(params or {}, sort_keys=True),
        "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }
