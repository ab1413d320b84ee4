"""`segcap report DIR [--out FILE.html]`: the static HTML report of a dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        dataset_dir: Annotated[Path, typer.Argument(help="the dataset directory to look at")],
        out: Annotated[Path | None, typer.Option(
            "--out", help="the report's main HTML file (default: DIR-report.html beside DIR); "
                          "pages and assets go to a folder FILE_files beside it")] = None,
        page_size: Annotated[int, typer.Option("--page-size", help="cards per page")] = 24,
    ) -> None:
        """Write a self-contained HTML report: mask overlays, captions, plots, paging, search."""
        from pydantic import ValidationError

        from pipelines.commands.common import console, existing_dataset, fail
        from pipelines.report import build_report
        from schemas.options.report import ReportOptions

        dataset = existing_dataset(dataset_dir)
        if not dataset.configs():
            fail(f"{dataset_dir} holds no dataset config (images, segments, ...): nothing to report")
        if out is not None and out.suffix.lower() not in (".html", ".htm"):
            fail(f"--out {out} must name an .html file")
        try:
            options = ReportOptions(page_size=page_size)
        except ValidationError as exc:
            fail(f"bad --page-size {page_size}: {exc.errors()[0]['msg']}")
        result = build_report(dataset.path, out, options)
        console.print(result.summary_line())
