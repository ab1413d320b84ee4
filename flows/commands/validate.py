"""`segcap validate DIR`: exit 0 only if DIR honours the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXAMPLES_PER_CHECK = 5  # messages shown per (check, config); the count says how many there are


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_command(path: Annotated[Path, typer.Argument(help="dataset directory")]) -> None:
        """Check schemas, ids, mask sizes, [SEG]/mask/label alignment, spans, ranges, references."""
        from flows.commands.common import console, fail
        from pipelines.store.validate import validate_dataset

        if not path.is_dir():
            fail(f"dataset directory {path} does not exist")
        report = validate_dataset(path)
        render_report(report, console)
        rows = sum(report.counts.values())
        console.print(f"validate: {rows} in, {rows if report.ok else 0} out, "
                      f"{len(report.violations)} violations")
        if not report.ok:
            raise typer.Exit(1)


def render_report(report, console) -> None:
    """A rich table: one line per (check, config) with the count and the first examples."""
    from rich.table import Table

    from schemas.contract import VERDICTS

    counts = ", ".join(f"{c} {n:,}" for c, n in report.counts.items()) or "no configs"
    console.print(f"[bold]{report.path}[/]: {counts}")
    if report.verdicts:
        console.print("verification: " + ", ".join(
            f"{report.verdicts.get(v, 0):,} {v}" for v in VERDICTS))
    if report.ok:
        console.print("[green]valid[/]: every check passed")
        return
    table = Table(title=f"{len(report.violations)} violations", show_lines=True)
    for column in ("check", "config", "count", "examples"):
        table.add_column(column, overflow="fold")
    for (check, config), messages in sorted(report.by_check().items()):
        table.add_row(check, config, str(len(messages)), "\n".join(messages[:EXAMPLES_PER_CHECK]))
    console.print(table)
