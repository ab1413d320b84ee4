"""`segcap validate DIR`: exit 0 only if DIR honours the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_command(path: Annotated[Path, typer.Argument(help="dataset directory")]) -> None:
        """Check schemas, ids, mask sizes, [SEG]/mask/label alignment, spans, ranges, references."""
        from pipelines.commands.common import console, fail
        from pipelines.store.validate import render_report, validate_dataset

        if not path.is_dir():
            fail(f"dataset directory {path} does not exist")
        report = validate_dataset(path)
        render_report(report, console)
        rows = sum(report.counts.values())
        console.print(f"validate: {rows} in, {rows if report.ok else 0} out, "
                      f"{len(report.violations)} violations")
        if not report.ok:
            raise typer.Exit(1)
