"""`segcap select`: a budgeted subset of `instructions`, with a pool-vs-selected summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("select")
    def select_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with scored `instructions`")],
        budget: Annotated[float, typer.Option(help="ratio in (0, 1] or a count >= 1")],
        method: Annotated[str, typer.Option(help="mmssr | random | deita | kmeans")] = "mmssr",
        seed: Annotated[int, typer.Option(
            help="random/deita/kmeans seed (mmssr breaks score ties by sample_id)")] = 0,
        threshold: Annotated[float, typer.Option(help="mmssr: minimum score (exclusive)")] = 0.0,
        tau: Annotated[float, typer.Option(help="deita: max cosine similarity to selected")] = 0.9,
        clusters: Annotated[int | None, typer.Option(help="kmeans: number of clusters")] = None,
        deita_score_column: Annotated[str | None, typer.Option(
            help="deita: instructions column with DEITA's complexity x quality score "
                 "(default: the mean capability score, a stand-in)")] = None,
        embedding_model: Annotated[str | None, typer.Option(help="local sentence-transformers folder")] = None,
        embedding_cache: Annotated[str | None, typer.Option(help="folder caching text vectors")] = None,
    ) -> None:
        """Select a budget of samples: mmSSR (style-balanced per capability) or a baseline."""
        from rich.table import Table

        from pipelines.commands.common import console, fail, print_summary
        from pipelines.commands.scoring_common import build_options, run_on_instructions
        from pipelines.stages.select import SelectStage
        from schemas.options.scoring import SelectOptions

        options = build_options(SelectOptions, budget=budget, method=method, seed=seed,
                                threshold=threshold, deita_tau=tau, kmeans_clusters=clusters,
                                deita_score_column=deita_score_column,
                                embedding_model=embedding_model, embedding_cache=embedding_cache)
        stage = SelectStage(**options.model_dump())
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
                 f"{stage.budget_count} asked for have a score above --threshold {threshold}; "
                 "score more samples or lower --budget", code=1)
