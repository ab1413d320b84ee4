"""`segcap demo [--out DIR]`: the main job on the bundled sample set, with the embedded defaults.

Writes DIR/inputs (the sample set), DIR/recipe.yaml (recipes/demo.yaml, re-runnable with
`segcap run DIR/recipe.yaml`), DIR/dataset (the curated dataset) and DIR/report.html.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

DEMO_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "demo.yaml"


def run_demo(out: Path, progress: bool = True) -> tuple[list[dict], Path]:
    """Build the sample set, run the demo recipe through the curate flow; returns (results, report)."""
    from flows.curate import curate
    from pipelines.engine.lock import writer_lock
    from pipelines.ingest.demo_data import build_demo_inputs

    out.mkdir(parents=True, exist_ok=True)
    # One demo per folder at a time: the lock is taken before the inputs are written.
    with writer_lock(out / "dataset"):
        if not (out / "inputs" / "llava" / "instructions.json").is_file():
            build_demo_inputs(out / "inputs")
        shutil.copyfile(DEMO_RECIPE, out / "recipe.yaml")
        results = curate(str(out / "recipe.yaml"), progress=progress)
    from pipelines.report import build_report

    report = build_report(out / "dataset", out / "report.html")
    return results, report.path


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option(help="demo folder: inputs, dataset, report")] = Path("demo-out"),
    ) -> None:
        """Run the whole curation on bundled sample data (Prefect + local Ray, no downloads)."""
        from flows.commands.common import console, fail
        from flows.commands.run import (
            keep_prefect_results_in,
            print_run_table,
            quiet_prefect_defaults,
        )
        from pipelines.engine.stopping import set_resume_hint

        if out.exists() and not out.is_dir():
            fail(f"--out {out} is a file; give a folder for the demo's inputs, dataset and report")
        quiet_prefect_defaults()
        keep_prefect_results_in(out / "dataset")
        set_resume_hint(f"`segcap demo --out {out}` resumes it")
        from flows.run_logging import log_file_in, log_note, route_library_logs

        log_file = route_library_logs(log_file_in(out.resolve() / "logs", "demo"))
        results, report = run_demo(out.resolve())
        print_run_table(results, "segcap demo")
        console.print(f"demo: dataset at {out / 'dataset'}, report at {report}, "
                      f"re-run with `segcap run {out / 'recipe.yaml'}`", soft_wrap=True)
        if log_file is not None:
            console.print(log_note(log_file), soft_wrap=True)
