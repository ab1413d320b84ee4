"""The data-plane commands of `segcap`. Each module in `pipelines/commands/` registers its own.

The console script is `flows.cli:main`, which adds the flow commands (run, serve, demo, publish).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from importlib import metadata
from typing import Annotated

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
    # Plain click help: it wraps long option help at the terminal width instead of cutting it
    # with an ellipsis (rich's tables did, at 80 columns), and never writes ANSI codes to a pipe.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


def package_version() -> str:
    try:
        return metadata.version("segcap-curator")
    except metadata.PackageNotFoundError:  # a source checkout that was never pip-installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"segcap {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="print the version and exit")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="show Ray and Prefect logs on the terminal (default: a log file)")] = False,
) -> None:
    # No docstring: the group's help is the Typer(help=...) above.
    if verbose:
        os.environ["SEGCAP_VERBOSE"] = "1"


def register_commands_from(package) -> None:
    """Register every module of `package` that defines `register(app)`."""
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


register_commands_from(pipelines.commands)
