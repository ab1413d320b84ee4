"""Quiet by default: Ray's and Prefect's log lines go to a log file that the summary names.

A run's terminal output is ours (progress, the step table, one summary, errors); the libraries'
INFO lines (the ephemeral server starting, Ray starting, flow/task states) are useful only when
something goes wrong, so they go to a file. `segcap --verbose ...` leaves them on the terminal.
Both libraries configure stdlib logging on import, so after importing them we swap every console
handler on their loggers (and on the root logger, where Prefect puts its console handler) for
one file handler.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

LIBRARY_LOGGERS = ("prefect", "ray", "uvicorn", "fastapi", "httpx", "httpcore", "alembic", "asyncio")
LOG_FILE_ENV = "SEGCAP_LOG_FILE"


def verbose() -> bool:
    return os.environ.get("SEGCAP_VERBOSE") == "1"


def log_file_in(folder: Path, kind: str) -> Path:
    return folder / f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.log"


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def route_library_logs(log_file: Path) -> Path | None:
    """Send Ray's and Prefect's console logging to `log_file`; None (and no change) if verbose."""
    if verbose():
        return None
    import prefect  # noqa: F401  (configures Prefect's logging)
    import ray.data  # noqa: F401  (configures Ray's and Ray Data's loggers)

    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in LIBRARY_LOGGERS]
    for logger in [logging.getLogger(), *map(logging.getLogger, names)]:
        consoles = _console_handlers(logger)
        for console in consoles:
            logger.removeHandler(console)
        if consoles or logger is logging.getLogger():
            logger.addHandler(handler)
    os.environ[LOG_FILE_ENV] = str(log_file)
    return log_file


def log_note(log_file: Path | None) -> str:
    return f"logs: {log_file} (`segcap --verbose ...` shows them here)" if log_file else ""
