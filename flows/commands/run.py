"""`segcap run RECIPE` (a whole curation run as a Prefect flow on Ray) and `segcap serve RECIPE`.

These commands launch flows, so they live in `flows/` (the top layer) and `flows.cli` adds them
to the data-plane commands of `pipelines.cli`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def quiet_prefect_defaults() -> None:
    """No telemetry calls from the ephemeral server (there is no network here)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def keep_prefect_results_in(dataset_dir: Path) -> None:
    """Persist the run's Prefect task results inside the dataset's run state, not under
    ~/.prefect/storage: they go with the dataset (and its cache with them) instead of piling up
    in the home folder run after run. Set before Prefect is imported; a user's setting wins."""
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH",
                          str(Path(dataset_dir).resolve() / ".segcap-run" / "prefect-results"))


def print_run_table(results: list[dict], title: str) -> None:
    from rich.table import Table

    from pipelines.commands.common import console

    table = Table(title=title)
    for column in ("step", "rows in", "rows out", "rejected", "seconds", "note"):
        table.add_column(column, justify="right" if column.startswith(("rows", "rej", "sec")) else "left")
    for r in results:
        if "rows_in" not in r:
            table.add_row(r["step"], "", "", "", "", r.get("out", ""))
            continue
        note = "skipped (done)" if r.get("skipped") else (
            f"resumed {r['units_resumed']}/{r['units']} units" if r.get("units_resumed") else "")
        table.add_row(r["step"], str(r["rows_in"]), str(r["rows_out"]),
                      str(sum(r["rejected"].values())), f"{r['seconds']:.1f}", note)
    console.print(table)


def load_or_fail(recipe: Path, out: Path | None):
    from pipelines.commands.common import fail
    from schemas.recipe import RecipeError, load_recipe

    try:
        return load_recipe(recipe, overrides={"output": str(out.resolve())} if out else None)
    except RecipeError as error:
        fail(str(error))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML file")],
        out: Annotated[Path | None, typer.Option(help="dataset directory (overrides `output:`)")] = None,
        ray_address: Annotated[str | None, typer.Option(
            help="join this Ray cluster (default: RAY_ADDRESS, else a local Ray)")] = None,
    ) -> None:
        """Run a recipe as a Prefect flow on Ray Data; a killed run resumes where it stopped."""
        quiet_prefect_defaults()
        loaded = load_or_fail(recipe, out)
        keep_prefect_results_in(loaded.output)
        from flows.curate import curate
        from pipelines.stopping import set_resume_hint

        again = f"segcap run {recipe}" + (f" --out {out}" if out else "")
        set_resume_hint(f"`{again}` resumes it in {loaded.output}")

        from pipelines.lock import writer_lock

        # Taken before Prefect starts: a second writer is refused at once, in one line.
        with writer_lock(loaded.output):
            results = curate(str(recipe), str(loaded.output.resolve()), ray_address)
        print_run_table(results, f"segcap run {loaded.name}")
        rows = results[-1] if results else {}
        from pipelines.commands.common import console

        console.print(f"run: {len(results)} steps, last step {rows.get('step', '-')}: "
                      f"{rows.get('rows_in', 0)} in, {rows.get('rows_out', 0)} out; "
                      f"dataset at {loaded.output}")

    @app.command("serve")
    def serve_command(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML file")],
        cron: Annotated[str, typer.Option(help='schedule, e.g. "0 3 * * *"')],
        name: Annotated[str | None, typer.Option(help="deployment name (default: recipe name)")] = None,
    ) -> None:
        """Register and serve a scheduled deployment of the recipe's run (flow.serve)."""
        quiet_prefect_defaults()
        loaded = load_or_fail(recipe, None)
        from flows.curate import curate

        curate.serve(name=name or loaded.name, cron=cron,
                     parameters={"recipe_path": str(recipe.resolve()), "progress": False})
