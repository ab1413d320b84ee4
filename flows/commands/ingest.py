"""`segcap ingest`: read a source format into a dataset directory.

Flags come from IngestOptions (flows/options_cli.py); `--out` is the command's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import model_command
from schemas.options.ingest import IngestOptions


def register(app: typer.Typer) -> None:
    @model_command(app, "ingest", IngestOptions)
    def ingest_command(
        out: Annotated[Path, typer.Option("--out", help="dataset directory to write")],
        options,
    ) -> None:
        """Read FORMAT from SOURCE into OUT (images + segments/segcap/instructions; bad items to rejects)."""
        from flows.commands.common import fail, print_summary
        from pipelines.ingest.base import IngestError
        from pipelines.stages.ingest import ingest_with

        try:
            stats = ingest_with(options, out)
        except IngestError as exc:
            fail(str(exc))
        print_summary(stats)
        if stats.counters:  # e.g. the MOT variant detected, crowd regions, box masks
            _print_counters(stats.counters)


def _print_counters(counters) -> None:
    """One line of `name: count` pairs, e.g. "mot_variant.MOT15: 2, crowd_regions: 14"."""
    from rich.markup import escape

    from flows.commands.common import console

    listed = ", ".join(f"{name}: {count}" for name, count in sorted(counters.items()) if count)
    if listed:
        console.print(escape(f"  noted: {listed}"))
