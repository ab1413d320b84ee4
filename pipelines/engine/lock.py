"""One writer per dataset directory: an advisory lock file holding the writer's pid.

The lock is `fcntl.flock` on `DIR/.segcap-lock`, so the kernel releases it when the holder dies
however it dies (kill -9 included): a lock is never left stuck. The file also records the
holder's pid, which is what a refused writer is told, and what lets a writer that takes the lock
over from a dead process say so. Readers (validate, report, export reading DIR) never take it.

The lock is re-entrant within one process (a recipe run holds it, and so does each step the run
executes); Ray workers write shards under the driver's lock and never take it themselves.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".segcap-lock"

_held: dict[Path, tuple[int, int]] = {}  # resolved dir -> (fd, depth)


class DatasetLocked(RuntimeError):
    """Another live process is writing the directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recorded_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None


@contextmanager
def writer_lock(directory: str | Path) -> Iterator[None]:
    """Hold DIR's writer lock for the block; raise DatasetLocked at once if another holds it."""
    root = Path(directory).resolve()
    if root in _held:
        fd, depth = _held[root]
        _held[root] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[root]
            _held[root] = (fd, depth - 1)
        return
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _recorded_pid(fd)
        os.close(fd)
        raise DatasetLocked(
            f"{root} is being written by another process (pid {holder if holder else 'unknown'}, "
            f"lock file {path}); wait for it to finish or stop it, then rerun") from None
    previous = _recorded_pid(fd)
    if previous is not None and previous != os.getpid() and not _pid_alive(previous):
        print(f"note: took over the lock of {root} from pid {previous}, which is no longer "
              "running (its run was interrupted; this run resumes it)", file=sys.stderr)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, str(os.getpid()).encode("ascii"))
    os.fsync(fd)
    _held[root] = (fd, 1)
    try:
        yield
    finally:
        fd, depth = _held.pop(root)
        os.ftruncate(fd, 0)  # released cleanly: nothing stale for the next writer to report
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
