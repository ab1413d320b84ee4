"""`segcap describe`: scene/instance/track descriptions and grounded SegCap captions.

Flags come from DescribeOptions (flows/options_cli.py); `--batch-size` is both the stage's batch
and the transformers backend's (`model_batch_size` declares it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command
from pipelines.stages.describe import DescribeStage


def register(app: typer.Typer) -> None:
    @stage_command(app, "describe", DescribeStage)
    def describe_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `images` (+ `segments`)")],
        options, batch_size: int,
    ) -> None:
        """Describe scenes, instances and tracks, and write grounded root/subtree captions."""
        from annotators.backends.base import BackendUnavailable
        from flows.commands.common import existing_dataset, fail
        from flows.commands.stage_run import preflight_backend, print_model_summary
        from pipelines.engine.runner import run_stage
        from pipelines.engine.stage import StepResultError

        backend = options.backend
        dataset = existing_dataset(directory, needs=("images",))
        stage = DescribeStage(batch_size=batch_size, **options.model_dump())
        preflight_backend(stage, directory)
        try:
            stats = run_stage(stage, dataset)
        except BackendUnavailable as exc:  # the server is gone: a run failure, not a usage error
            fail(f"describe on {directory} with the {backend} backend: {exc}", code=1)
        except StepResultError as exc:  # e.g. too many template fallbacks: counts in the message
            fail(str(exc), code=1)
        except (OSError, ValueError, ImportError) as exc:
            fail(f"describe on {directory} with the {backend} backend: {exc}")
        print_model_summary(stage, stats)
