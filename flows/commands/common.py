"""Helpers shared by the command modules: argument checks, one-line failures and summaries."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipelines.store.dataset_dir import DatasetDir

console = Console()


def fail(message: str, code: int = 2) -> None:
    """Print a clear error that names the bad input, and exit non-zero."""
    # soft_wrap: never break the line at the terminal width (a long path stays whole for tests
    # and greps); escape: brackets in the message (`[vllm]`) are text, not rich markup.
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def existing_dataset(path: Path, needs: tuple[str, ...] = ()) -> DatasetDir:
    if path.exists() and not path.is_dir():
        fail(f"{path} is a file, not a dataset directory; give the folder `segcap ingest` wrote")
    if not path.is_dir():
        fail(f"dataset directory {path} does not exist; create one with `segcap ingest` first")
    dataset = DatasetDir(path)
    for config in needs:
        if not dataset.has(config):
            fail(f"{path} has no `{config}` config; run the stage that writes it first")
    return dataset


def print_summary(stats) -> None:
    console.print(stats.summary_line())
