"""`segcap report DIR [--out FILE.html]`: the static HTML report of a dataset directory.

Flags come from ReportOptions (flows/options_cli.py); `--out` is the command's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import model_command
from schemas.options.report import ReportOptions


def register(app: typer.Typer) -> None:
    @model_command(app, "report", ReportOptions)
    def report(
        dataset_dir: Annotated[Path, typer.Argument(help="the dataset directory to look at")],
        options,
        out: Annotated[Path | None, typer.Option(
            "--out", help="the report's main HTML file (default: DIR-report.html beside DIR); "
                          "pages and assets go to a folder FILE_files beside it")] = None,
    ) -> None:
        """Write a self-contained HTML report: mask overlays, captions, plots, paging, search."""
        from flows.commands.common import console, existing_dataset, fail
        from pipelines.report import build_report

        dataset = existing_dataset(dataset_dir)
        if not dataset.configs():
            fail(f"{dataset_dir} holds no dataset config (images, segments, ...): nothing to report")
        if out is not None and out.suffix.lower() not in (".html", ".htm"):
            fail(f"--out {out} must name an .html file")
        result = build_report(dataset.path, out, options)
        console.print(result.summary_line())
