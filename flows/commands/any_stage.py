"""`segcap <stage> DIR`: the one command scaffolding every stage command is built from.

A stage whose name no command module registers (and that no module lists in `ALSO_RUNS`) still
has a command: its options model's flags and `--batch-size` (generated, `flows/options_cli.py`),
a check that DIR holds the stage's input config, the run through the one engine, and the
one-line summary. A command module of its own passes only what is genuinely the stage's through
`register_stage`: its help, a run with extra pre-checks and messages, or a richer summary.
"""

# No `from __future__ import annotations`: the DIR help below is built per stage, and typer
# reads the annotation at registration, when only a real object (not a string) can hold it.

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command


def run_on_input(stage, directory: Path):
    """The plain run: DIR must hold the stage's input config; errors go to `cli.main`."""
    from flows.commands.common import existing_dataset
    from pipelines.engine.runner import run_stage

    return run_stage(stage, existing_dataset(directory, needs=(stage.input_config,)))


def print_stage_summary(stage, stats, directory: Path) -> None:
    from flows.commands.common import print_summary

    print_summary(stats)


def register_stage(app: typer.Typer, stage_class: type, *, doc: str | None = None,
                   dir_help: str | None = None,
                   run: Callable = run_on_input,
                   summary: Callable = print_stage_summary) -> None:
    """Register `stage_class` as command `stage_class.name` (underscores become dashes).

    The command builds the stage from its flags, `run(stage, DIR)` -> stats, then
    `summary(stage, stats, DIR)`; the hooks read the validated options as `stage.settings`.
    `doc` is the command's help (default: the stage's first doc line), `dir_help` DIR's."""
    name = stage_class.name.replace("_", "-")
    if doc is None:
        first_line = (stage_class.__doc__ or f"Run the {stage_class.name} stage.").strip().splitlines()[0]
        doc = f"{first_line} (the `{stage_class.name}` stage; flags from its options)"

    def run_stage_command(
        directory: Annotated[Path, typer.Argument(
            help=dir_help or f"dataset directory with `{stage_class.input_config}`")],
        options, batch_size: int,
    ) -> None:
        stage = stage_class(batch_size=batch_size, **options.model_dump())
        summary(stage, run(stage, directory), directory)

    # The doc is the command's help; it must be set before the command is built from it.
    run_stage_command.__doc__ = doc
    stage_command(app, name, stage_class)(run_stage_command)


def register_uncovered(app: typer.Typer, modules) -> None:
    """A generated command for every recipe stage no command module covers."""
    from pipelines.engine.registry import recipe_stages

    covered = {info.name or info.callback.__name__ for info in app.registered_commands}
    covered |= {name for module in modules for name in getattr(module, "ALSO_RUNS", ())}
    for name, stage_class in recipe_stages().items():
        if name not in covered and name.replace("_", "-") not in covered:
            register_stage(app, stage_class)
