"""`segcap dedup`: mark exact, near-image and semantic duplicates in `instructions`.

Flags come from DedupOptions (flows/options_cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command
from pipelines.stages.dedup import DedupStage


def register(app: typer.Typer) -> None:
    @stage_command(app, "dedup", DedupStage)
    def dedup_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `instructions`")],
        options, batch_size: int,
    ) -> None:
        """Mark duplicates: each gets `duplicate_of` = the kept original's sample_id."""
        from flows.commands.common import console, print_summary
        from flows.commands.stage_run import run_on_instructions

        stage = DedupStage(batch_size=batch_size, **options.model_dump())
        stats = run_on_instructions(stage, directory)
        found = ", ".join(f"{k}: {v}" for k, v in sorted(stage.found.items())) or "none"
        console.print(f"duplicates found: {found}")
        print_summary(stats)
