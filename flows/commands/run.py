"""`segcap run RECIPE` (a whole curation run as a Prefect flow on Ray) and `segcap serve RECIPE`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def quiet_prefect_defaults() -> None:
    """No telemetry calls from the ephemeral server (there is no network here)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's 20 s default for the ephemeral server to come up fails on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def keep_prefect_results_in(dataset_dir: Path) -> None:
    """Persist the run's Prefect task results inside the dataset's run state, not under
    ~/.prefect/storage: they go with the dataset (and its cache with them) instead of piling up
    in the home folder run after run. Set before Prefect is imported; a user's setting wins."""
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH",
                          str(Path(dataset_dir).resolve() / ".segcap-run" / "prefect-results"))


def print_run_table(results: list[dict], title: str) -> None:
    from rich import box
    from rich.table import Table

    from flows.commands.common import console

    # box-drawing characters only on a terminal; a log or a pipe gets plain ASCII
    table = Table(title=title, box=box.HEAVY_HEAD if console.is_terminal else box.ASCII)
    for column in ("step", "rows in", "rows out", "rejected", "seconds", "note"):
        # fold, not ellipsis: the note can be a path (the export) and must stay whole
        table.add_column(column, justify="right" if column.startswith(("rows", "rej", "sec")) else "left",
                         overflow="fold")
    for r in results:
        if "rows_in" not in r:
            table.add_row(r["step"], "", "", "", "", r.get("out", ""))
            continue
        note = "skipped (done)" if r.get("skipped") else (
            f"resumed {r['units_resumed']}/{r['units']} units" if r.get("units_resumed") else "")
        counters = r.get("counters") or {}
        missed = {k: counters[k] for k in ("template_fallbacks", "answers_rejected", "failed_requests")
                  if counters.get(k)}
        if missed:  # what the model did not give is never hidden in a green table
            note = "; ".join(filter(None, [note, ", ".join(f"{v} {k.replace('_', ' ')}"
                                                             for k, v in missed.items())]))
        table.add_row(r["step"], str(r["rows_in"]), str(r["rows_out"]),
                      str(sum(r["rejected"].values())), f"{r['seconds']:.1f}", note)
    console.print(table)


def load_or_fail(recipe: Path, out: Path | None):
    """Load the recipe; `--out` moves everything the run writes: the dataset to OUT and the
    recipe's `export:` (if any) to OUT-export beside it, never the recipe's own export path."""
    from flows.commands.common import fail
    from pipelines.engine.recipe import load_recipe
    from schemas.recipe import RecipeError

    overrides = None
    if out is not None:
        out = out.resolve()
        overrides = {"output": str(out)}
    try:
        loaded = load_recipe(recipe, overrides=overrides)
        if out is not None and loaded.export is not None:
            loaded = load_recipe(recipe, overrides={**overrides, "export": str(export_beside(out))})
        return loaded
    except RecipeError as error:
        fail(str(error))


def export_beside(out: Path) -> Path:
    return out.with_name(out.name + "-export")


def check_cron_or_fail(cron: str) -> None:
    """Refuse a bad schedule and a missing Prefect server up front, with what to do."""
    from pydantic import ValidationError

    from flows.commands.common import fail

    try:
        from prefect.client.schemas.schedules import CronSchedule

        CronSchedule(cron=cron)
    except ValidationError:
        fail(f'--cron {cron!r} is not a cron expression; use five fields, e.g. --cron "0 3 * * *" '
             "(03:00 every day)")
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        fail("serve needs a Prefect server to schedule runs (the ephemeral one has no scheduler): "
             "start one with `prefect server start`, then `prefect config set "
             "PREFECT_API_URL=http://127.0.0.1:4200/api`, and run serve again")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML file")],
        out: Annotated[Path | None, typer.Option(
            help="dataset directory (overrides `output:`); the recipe's `export:` then goes to "
                 "OUT-export beside it")] = None,
        ray_address: Annotated[str | None, typer.Option(
            help="join this Ray cluster (default: RAY_ADDRESS, else a local Ray)")] = None,
    ) -> None:
        """Run a recipe as a Prefect flow on Ray Data; a killed run resumes where it stopped."""
        quiet_prefect_defaults()
        loaded = load_or_fail(recipe, out)
        from flows.run_logging import log_file_in, log_note, route_library_logs

        log_file = route_library_logs(log_file_in(loaded.output / ".segcap-run" / "logs", "run"))
        keep_prefect_results_in(loaded.output)
        from flows.curate import curate
        from pipelines.engine.stopping import set_resume_hint

        again = f"segcap run {recipe}" + (f" --out {out}" if out else "")
        set_resume_hint(f"`{again}` resumes it in {loaded.output}")

        from pipelines.engine.lock import writer_lock

        # Taken before Prefect starts: a second writer is refused at once, in one line.
        with writer_lock(loaded.output):
            results = curate(str(recipe), str(loaded.output.resolve()), ray_address,
                             export=str(loaded.export) if loaded.export is not None else None)
        print_run_table(results, f"segcap run {loaded.name}")
        rows = results[-1] if results else {}
        from flows.commands.common import console

        console.print(f"run: {len(results)} steps, last step {rows.get('step', '-')}: "
                      f"{rows.get('rows_in', 0)} in, {rows.get('rows_out', 0)} out; "
                      f"dataset at {loaded.output}"
                      + (f", export at {loaded.export}" if loaded.export is not None else ""))
        if log_file is not None:
            console.print(log_note(log_file), soft_wrap=True)

    @app.command("serve")
    def serve_command(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML file")],
        cron: Annotated[str, typer.Option(help='schedule, e.g. "0 3 * * *"')],
        name: Annotated[str | None, typer.Option(help="deployment name (default: recipe name)")] = None,
    ) -> None:
        """Register and serve a scheduled deployment of the recipe's run (flow.serve)."""
        quiet_prefect_defaults()
        loaded = load_or_fail(recipe, None)
        check_cron_or_fail(cron)
        from flows.curate import curate

        curate.serve(name=name or loaded.name, cron=cron,
                     parameters={"recipe_path": str(recipe.resolve()), "progress": False})
