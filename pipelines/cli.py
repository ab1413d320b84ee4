"""The `segcap` command line. Each module in `pipelines/commands/` registers its own commands."""

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


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(pipelines.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pipelines.commands.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()
