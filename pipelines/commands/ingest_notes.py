"""The lines `segcap ingest` prints under its summary: what the readers noticed and counted."""

from __future__ import annotations

from rich.markup import escape

from pipelines.commands.common import console


def print_counters(counters) -> None:
    """One line of `name: count` pairs, e.g. "mot_variant.MOT15: 2, crowd_regions: 14"."""
    listed = ", ".join(f"{name}: {count}" for name, count in sorted(counters.items()) if count)
    if listed:
        console.print(escape(f"  noted: {listed}"))
