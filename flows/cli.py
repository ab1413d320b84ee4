"""The `segcap` entry point: the data-plane commands of `pipelines.cli` plus the flow commands.

It lives in `flows/` because run, serve, demo and publish launch Prefect flows, and imports go
one way only (`pipelines` never imports `flows`).
"""

from __future__ import annotations

import flows.commands
from pipelines.cli import app, register_commands_from

register_commands_from(flows.commands)


def main() -> None:
    app()
