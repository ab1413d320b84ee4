"""`segcap select`: a budgeted subset of `instructions`, with a pool-vs-selected summary.

Flags come from SelectOptions (flows/options_cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command
from pipelines.stages.select import SelectStage


def register(app: typer.Typer) -> None:
    @stage_command(app, "select", SelectStage)
    def select_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with scored `instructions`")],
        options, batch_size: int,
    ) -> None:
        """Select a budget of samples: mmSSR (style-balanced per capability) or a baseline."""
        from rich.table import Table

        from flows.commands.common import console, fail, print_summary
        from flows.commands.stage_run import run_on_instructions

        stage = SelectStage(batch_size=batch_size, **options.model_dump())
        stats = run_on_instructions(stage, directory)
        table = Table(title=f"{stage.method_label} selection, budget {options.budget} "
                            f"({stage.budget_count} samples)")
        for column in ("group", "name", "pool", "selected"):
            table.add_column(column, justify="right" if column in ("pool", "selected") else "left")
        for row in stage.summary.itertuples(index=False):
            table.add_row(row.group, row.name, str(row.pool), str(row.selected))
        console.print(table)
        print_summary(stats)
        shortfall = stage.plan_counters.get("shortfall", 0)
        if shortfall > 0:
            fail(f"select on {directory}: only {stage.budget_count - shortfall} of the "
                 f"{stage.budget_count} asked for have a score above --threshold {options.threshold}; "
                 "score more samples or lower --budget", code=1)
