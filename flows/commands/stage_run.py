"""Shared by the stage commands: run a stage on DIR, check a model server first, print the summary."""

from __future__ import annotations

from pathlib import Path

from flows.commands.common import existing_dataset, fail


def run_on_instructions(stage, directory: Path):
    """Run a stage over DIR's `instructions`; a missing model or folder is a clear error."""
    from annotators.backends.base import BackendUnavailable
    from annotators.embeddings import EmbeddingModelMissing
    from pipelines.engine.runner import run_stage
    from pipelines.engine.stage import StepResultError

    dataset = existing_dataset(directory, needs=("instructions",))
    preflight_backend(stage, directory)
    try:
        return run_stage(stage, dataset)
    except BackendUnavailable as exc:  # the model server is gone: a run failure (exit 1)
        fail(f"{stage.name} on {directory}: {exc}", code=1)
    except StepResultError as exc:  # e.g. too many null scores: counts in the message
        fail(str(exc), code=1)
    except (EmbeddingModelMissing, OSError, ValueError) as exc:
        fail(f"{stage.name} on {directory}: {exc}")


def preflight_backend(stage, directory: Path) -> None:
    """An openai backend's server must answer before the dataset directory is touched (a dead
    server then costs seconds and leaves DIR exactly as it was)."""
    settings = getattr(stage, "settings", None)
    if getattr(settings, "backend", None) != "openai":
        return
    from annotators.backends.base import BackendUnavailable
    from annotators.backends.openai_backend import preflight

    try:
        preflight(settings.base_url, settings.model, api_key_env=getattr(settings, "api_key_env", "OPENAI_API_KEY"),
                  connect_timeout_s=settings.connect_timeout_s)
    except BackendUnavailable as exc:
        fail(f"{stage.name} on {directory}: {exc}", code=1)
    except ValueError as exc:
        fail(f"{stage.name} on {directory}: {exc}")


def print_model_summary(stage, stats) -> None:
    """The summary line and the model-answer line (fallbacks, failures by kind). A result that
    is not what was asked (too many fallbacks) already failed in the engine (`_check_result`)."""
    from annotators.backends.shortfall import shortfall_summary
    from flows.commands.common import console

    console.print(stats.summary_line())
    line = shortfall_summary(stats.stage, stats.counters)
    if line and stage.calls_model(stage.settings):  # the stage's one model declaration
        console.print(line)

