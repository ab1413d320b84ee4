"""The data-plane commands of `segcap`. Each module in `pipelines/commands/` registers its own.

The console script is `flows.cli:main`, which adds the flow commands (run, serve, demo, publish).
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import pipelines.commands

app = typer.Typer(
    name="segcap",
    help=(
        "SegCap Curator: mine mask hierarchies, write grounded captions, score and select "
        "instruction data, and export SegCap Parquet datasets."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def register_commands_from(package) -> None:
    """Register every module of `package` that defines `register(app)`."""
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


register_commands_from(pipelines.commands)
