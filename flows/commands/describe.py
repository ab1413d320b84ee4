"""`segcap describe`: scene/instance/track descriptions and grounded SegCap captions.

Flags come from DescribeOptions (flows/options_cli.py); `--batch-size` is both the stage's batch
and the transformers backend's (`model_batch_size` declares it). The command is the shared
scaffolding (`any_stage.register_stage`) with a run whose failures name the backend.
"""

from __future__ import annotations

import typer

from flows.commands.any_stage import register_stage
from flows.commands.stage_run import print_model_summary
from pipelines.stages.describe import DescribeStage


def register(app: typer.Typer) -> None:
    register_stage(app, DescribeStage, run=_run,
                   summary=lambda stage, stats, _directory: print_model_summary(stage, stats),
                   dir_help="dataset directory with `images` (+ `segments`)",
                   doc="Describe scenes, instances and tracks, and write grounded root/subtree captions.")


def _run(stage: DescribeStage, directory):
    from annotators.backends.base import BackendUnavailable
    from flows.commands.common import existing_dataset, fail
    from flows.commands.stage_run import preflight_backend
    from pipelines.engine.runner import run_stage
    from pipelines.engine.stage import StepResultError

    backend = stage.settings.backend
    dataset = existing_dataset(directory, needs=("images",))
    preflight_backend(stage, directory)
    try:
        return run_stage(stage, dataset)
    except BackendUnavailable as exc:  # the server is gone: a run failure, not a usage error
        fail(f"describe on {directory} with the {backend} backend: {exc}", code=1)
    except StepResultError as exc:  # e.g. too many template fallbacks: counts in the message
        fail(str(exc), code=1)
    except (OSError, ValueError, ImportError) as exc:
        fail(f"describe on {directory} with the {backend} backend: {exc}")
