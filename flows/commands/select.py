"""`segcap select`: a budgeted subset of `instructions`, with a pool-vs-selected summary.

Flags come from SelectOptions (flows/options_cli.py); the command is the shared scaffolding
(`any_stage.register_stage`) plus the pool-vs-selected table and the shortfall check.
"""

from __future__ import annotations

import typer

from flows.commands.any_stage import register_stage
from flows.commands.stage_run import run_on_instructions
from pipelines.stages.select import SelectStage


def register(app: typer.Typer) -> None:
    register_stage(app, SelectStage, run=run_on_instructions, summary=_summary,
                   dir_help="dataset directory with scored `instructions`",
                   doc="Select a budget of samples: mmSSR (style-balanced per capability) or a baseline.")


def _summary(stage: SelectStage, stats, directory) -> None:
    from rich.table import Table

    from flows.commands.common import console, fail, print_summary

    options = stage.settings
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
