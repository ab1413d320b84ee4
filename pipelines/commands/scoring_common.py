"""Shared by `segcap score`, `select` and `dedup`: options from CLI values, clear failures."""

from __future__ import annotations

from pathlib import Path

from pipelines.commands.common import existing_dataset, fail


def build_options(model_class, **values):
    """The stage's pydantic options; a bad value exits with the flag and the reason."""
    from pydantic import ValidationError

    try:
        return model_class(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "options"
        fail(f"{flag} {error.get('input')!r}: {error['msg']}")


def run_on_instructions(stage, directory: Path):
    """Run a stage over DIR's `instructions`; a missing model or folder is a clear error."""
    from annotators.embeddings import EmbeddingModelMissing
    from pipelines.runner import run_stage

    dataset = existing_dataset(directory, needs=("instructions",))
    try:
        return run_stage(stage, dataset)
    except (EmbeddingModelMissing, OSError, ValueError) as exc:
        fail(f"{stage.name} on {directory}: {exc}")
