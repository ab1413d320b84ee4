"""Progress for long work: rich bars in a terminal, periodic plain lines otherwise (CI, Ray jobs)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PLAIN_INTERVAL_SECONDS = 10.0
console = Console(stderr=True)


class PlainProgress:
    def __init__(self, label: str, total: int | None):
        self.label, self.total, self.done = label, total, 0
        self.started = self.last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= PLAIN_INTERVAL_SECONDS:
            self.last = now
            of = f"/{self.total}" if self.total else ""
            print(f"[{self.label}] {self.done}{of} in {now - self.started:.0f}s", file=sys.stderr, flush=True)


class RichProgress:
    def __init__(self, progress: Progress, task_id):
        self.progress, self.task_id = progress, task_id

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task_id, n)


@contextmanager
def progress_bar(label: str, total: int | None = None, enabled: bool = True):
    """Yields an object with `.advance(n)`."""
    if not enabled or not console.is_terminal:
        yield PlainProgress(label, total)
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        yield RichProgress(progress, progress.add_task(label, total=total))
