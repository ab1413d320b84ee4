"""The `segcap` entry point: the data-plane commands of `pipelines.cli` plus the flow commands.

It lives in `flows/` because run, serve, demo and publish launch Prefect flows, and imports go
one way only (`pipelines` never imports `flows`).
"""

from __future__ import annotations

import sys

import flows.commands
from pipelines.cli import app, register_commands_from

register_commands_from(flows.commands)


def main() -> None:
    from pipelines.dataset_dir import DatasetFileError
    from pipelines.lock import DatasetLocked
    from pipelines.stopping import StopRequested, exit_now, stop_message, stop_on_signals

    # The integrity errors every command can meet end as one line, never a traceback:
    # a locked directory, an unreadable file of a dataset, a stop signal.
    try:
        with stop_on_signals():
            app()
    except (DatasetLocked, DatasetFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except StopRequested as stop:
        print(stop_message(stop.signum), file=sys.stderr)
        exit_now(stop.exit_code)


if __name__ == "__main__":
    main()
