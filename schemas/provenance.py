"""Provenance records: who made a row, with which model, prompt and parameters, and when."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata

# The engine pins one provenance time per step (kept across restarts), so a resumed step's rows
# equal an uninterrupted run's; rows made outside a step get the current time. Process-wide,
# not a ContextVar: a stage's worker threads (model calls) must see it too, and a process runs
# one step at a time.
_pinned: list[str] = []


@contextmanager
def pinned_created_at(value: str) -> Iterator[None]:
    _pinned.append(value)
    try:
        yield
    finally:
        _pinned.pop()


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
        "created_at": created_at or (_pinned[-1] if _pinned else None)
        or datetime.now(UTC).isoformat(timespec="seconds"),
    }
