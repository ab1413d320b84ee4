"""The `segcap` command line: the one typer app, built here from the command modules.

The whole CLI lives in `flows/`, the top layer: some commands launch Prefect flows, and imports
go one way only (`pipelines` never imports `flows`). Each command's flags are generated from its
options model (`flows/options_cli.py`); its module keeps its arguments, pre-checks and summary.

`main()` is the one place where errors become messages: click's usage errors, the project's
own error types and anything unexpected each print ONE line naming the command and what to do,
and exit 2 (usage) or 1 (run failure). No traceback reaches the user unless they ask for it
with SEGCAP_TRACEBACK=1.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Annotated

import typer

# Typer vendors its own copy of click (typer._click); its exception classes are the ones raised.
from typer import Abort
from typer._click import exceptions as click

from flows.commands import (
    any_stage,
    dedup,
    demo,
    describe,
    export,
    ingest,
    mine,
    publish,
    report,
    run,
    score,
    select,
    validate,
    verify,
)

# In the order of a curation: the data, its annotation, its checks, its delivery, whole runs.
COMMANDS = (ingest, mine, describe, score, select, dedup, verify, validate, report, export,
            publish, run, demo)

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


for _command in COMMANDS:
    _command.register(app)
# Every other registered stage gets a generated command: a new stage needs no command module.
any_stage.register_uncovered(app, COMMANDS)

USAGE_EXIT, FAILURE_EXIT, INTERRUPTED_EXIT = 2, 1, 130


def _command_path(argv: list[str]) -> str:
    """`segcap CMD` for the message, from the first word that is not an option."""
    words = [a for a in argv if not a.startswith("-")]
    return f"segcap {words[0]}" if words else "segcap"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _describe_failure(error: BaseException) -> tuple[str, int]:
    """(message, exit code) for an exception that escaped a command."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'value'}: {item['msg']}" for item in error.errors())
        return f"invalid value ({problems})", USAGE_EXIT
    if isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        target = error.filename or ""
        return f"{error.strerror or type(error).__name__}: {target}".rstrip(": "), FAILURE_EXIT
    if isinstance(error, ConnectionError) or "Connect" in type(error).__name__:
        return (f"could not connect ({type(error).__name__}: {_one_line(error)}); check the network "
                "and the server address", FAILURE_EXIT)
    if isinstance(error, ImportError):
        return f"{_one_line(error)}", FAILURE_EXIT
    message = _one_line(error) or type(error).__name__
    return f"{type(error).__name__}: {message}", FAILURE_EXIT


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # soft_wrap: an error line is never broken at the terminal width (tests and log greps
    # match it whole); escape: `[vllm]` and other brackets in messages are text, not markup.
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")


def main(argv: list[str] | None = None) -> None:
    from pipelines.engine.lock import DatasetLocked
    from pipelines.engine.stage import StepResultError
    from pipelines.engine.stopping import StopRequested, exit_now, stop_message, stop_on_signals
    from pipelines.store.dataset_dir import DatasetFileError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with stop_on_signals():
            result = app(args=argv, prog_name="segcap", standalone_mode=False)
    except StopRequested as stop:  # SIGINT / SIGTERM: the run stopped cleanly, say where to resume
        print(stop_message(stop.signum), file=sys.stderr)
        exit_now(stop.exit_code)
    except (DatasetLocked, DatasetFileError, StepResultError) as error:  # one line, exit 1
        _print_error(f"{_command_path(argv)}: {_one_line(error)}")
        sys.exit(FAILURE_EXIT)
    except click.NoArgsIsHelpError as error:
        error.show()
        sys.exit(USAGE_EXIT)
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else _command_path(argv)
        _print_error(f"{where}: {_one_line(error.format_message())} (see `{where} --help`)")
        sys.exit(USAGE_EXIT)
    except click.ClickException as error:
        _print_error(f"{_command_path(argv)}: {_one_line(error.format_message())}")
        sys.exit(error.exit_code or FAILURE_EXIT)
    except (Abort, KeyboardInterrupt):
        _print_error(f"{_command_path(argv)}: interrupted")
        sys.exit(INTERRUPTED_EXIT)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("SEGCAP_TRACEBACK") == "1":
            raise
        message, code = _describe_failure(error)
        logs = os.environ.get("SEGCAP_LOG_FILE")
        _print_error(f"{_command_path(argv)} failed: {message} ("
                     + (f"Ray and Prefect logs: {logs}; " if logs else "")
                     + "set SEGCAP_TRACEBACK=1 to see where)")
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
