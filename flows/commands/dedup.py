"""`segcap dedup`: mark exact, near-image and semantic duplicates in `instructions`.

Flags come from DedupOptions (flows/options_cli.py); the command is the shared scaffolding
(`any_stage.register_stage`) plus the line of duplicates found by kind.
"""

from __future__ import annotations

import typer

from flows.commands.any_stage import register_stage
from flows.commands.stage_run import run_on_instructions
from pipelines.stages.dedup import DedupStage


def register(app: typer.Typer) -> None:
    register_stage(app, DedupStage, run=run_on_instructions, summary=_summary,
                   doc="Mark duplicates: each gets `duplicate_of` = the kept original's sample_id.")


def _summary(stage: DedupStage, stats, directory) -> None:
    from flows.commands.common import console, print_summary

    found = ", ".join(f"{k}: {v}" for k, v in sorted(stage.found.items())) or "none"
    console.print(f"duplicates found: {found}")
    print_summary(stats)
