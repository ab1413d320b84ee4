"""A clean stop on SIGINT / SIGTERM: finish nothing half-way, exit 130, say how to resume.

The signal handler only sets `STOP`; the engine checks it between batches and between units
(`check_stop`) and unwinds with `StopRequested`, so open shard writers abort (their temp files
go) and no marker is written for an unfinished unit. Everything committed stays committed and
the next run resumes from it. If unwinding takes longer than `GRACE_SECONDS` (a model call
that does not return, a Ray job that does not cancel), a watchdog ends the process with
`os._exit`: by construction nothing half-written can look complete, since shards appear only
by rename and a unit only with its marker. A second signal ends the process at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

GRACE_SECONDS = 5.0  # then the watchdog exits; the issue asks for a stop within 15 s
CALLBACK_SECONDS = 4.0  # at most this long for the hard-exit callbacks (stop servers)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

STOP = threading.Event()
_received: list[int] = []
_on_hard_exit: list[Callable[[], None]] = []
_resume_hint: list[str] = []


class StopRequested(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """Raised inside the run when a stop signal arrived; not caught by `except Exception`."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 130)


def check_stop() -> None:
    if STOP.is_set():
        raise StopRequested(_received[0] if _received else signal.SIGINT)


def on_hard_exit(callback: Callable[[], None]) -> None:
    """Run `callback` (best effort) before the watchdog's os._exit: e.g. stop a server we started."""
    _on_hard_exit.append(callback)


def set_resume_hint(text: str) -> None:
    """What to tell the user on a stop, e.g. "segcap run recipe.yaml resumes it"."""
    _resume_hint[:] = [text]


def stop_message(signum: int) -> str:
    hint = _resume_hint[0] if _resume_hint else "run the same command again to resume"
    return (f"stopped by {signal.Signals(signum).name}: committed units are kept, nothing "
            f"half-written remains; {hint}")


def _run_callbacks() -> None:
    for callback in _on_hard_exit:
        try:
            callback()
        except Exception:  # noqa: BLE001, S110 - exiting anyway; nothing may stop the exit
            pass


def _hard_exit(code: int) -> None:
    print(stop_message(_received[0] if _received else signal.SIGINT), file=sys.stderr, flush=True)
    exit_now(code)


def exit_now(code: int) -> None:
    """Stop what we started (bounded), flush, and end the process without further atexit work
    (Prefect's would wait seconds on a server that is gone)."""
    worker = threading.Thread(target=_run_callbacks, daemon=True)
    worker.start()
    worker.join(CALLBACK_SECONDS)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _handle(signum, frame) -> None:
    if STOP.is_set():
        _hard_exit(EXIT_CODES.get(_received[0], 130))
    _received.append(signum)
    STOP.set()
    print(f"\nstopping ({signal.Signals(signum).name}): abandoning the units in progress "
          f"(a second signal ends the process at once) ...", file=sys.stderr, flush=True)
    watchdog = threading.Timer(GRACE_SECONDS, _hard_exit, args=(EXIT_CODES.get(signum, 130),))
    watchdog.daemon = True
    watchdog.start()
    # Interrupt a blocking call (a model request, a Ray wait) at once, as Ctrl-C would; the
    # commit protocol is safe at any point (shards appear by rename, units by marker).
    raise StopRequested(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Install the handlers for the block (main thread only), restore the previous ones after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in EXIT_CODES}
    for signum in EXIT_CODES:
        signal.signal(signum, _handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
