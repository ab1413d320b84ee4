"""`segcap <stage> DIR`: the command every registered stage gets without writing one.

A stage whose name no command module registers (and that no module lists in `ALSO_RUNS`) still
has a command: its options model's flags and `--batch-size` (generated, `flows/options_cli.py`),
a check that DIR holds the stage's input config, the run through the one engine, and the
one-line summary. A command module of its own is only for what is genuinely the stage's: extra
pre-checks with their messages, or a richer summary.
"""

# No `from __future__ import annotations`: the DIR help below is built per stage, and typer
# reads the annotation at registration, when only a real object (not a string) can hold it.

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command


def register_stage(app: typer.Typer, stage_class: type) -> None:
    """Register `stage_class` as command `stage_class.name` (underscores become dashes)."""
    name = stage_class.name.replace("_", "-")
    first_line = (stage_class.__doc__ or f"Run the {stage_class.name} stage.").strip().splitlines()[0]

    def run_stage_command(
        directory: Annotated[Path, typer.Argument(
            help=f"dataset directory with `{stage_class.input_config}`")],
        options, batch_size: int,
    ) -> None:
        from flows.commands.common import existing_dataset, print_summary
        from pipelines.engine.runner import run_stage

        dataset = existing_dataset(directory, needs=(stage_class.input_config,))
        stage = stage_class(batch_size=batch_size, **options.model_dump())
        print_summary(run_stage(stage, dataset))

    # The doc is the command's help; it must be set before the command is built from it.
    run_stage_command.__doc__ = f"{first_line} (the `{stage_class.name}` stage; flags from its options)"
    stage_command(app, name, stage_class)(run_stage_command)


def register_uncovered(app: typer.Typer, modules) -> None:
    """A generated command for every recipe stage no command module covers."""
    from pipelines.engine.registry import recipe_stages

    covered = {info.name or info.callback.__name__ for info in app.registered_commands}
    covered |= {name for module in modules for name in getattr(module, "ALSO_RUNS", ())}
    for name, stage_class in recipe_stages().items():
        if name not in covered and name.replace("_", "-") not in covered:
            register_stage(app, stage_class)
