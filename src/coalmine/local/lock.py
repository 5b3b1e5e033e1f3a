"""One `coalmine up` per state directory, enforced by an flock on `<state-dir>/up.lock`.

Why a lock and not "is the pid in api.json alive": a `coalmine up` killed with -9 stays
a zombie until its parent (a shell, a test, a supervisor) reaps it, and `kill(pid, 0)`
succeeds on a zombie, so a restart one second later was refused with "already runs".
The kernel drops an flock when the last descriptor of the file closes, which happens
when the process dies, before it is even a zombie; and taking it is atomic, so two
daemons starting together cannot both pass the check. The descriptor is not inherited
(Python opens files close-on-exec), so Envoy and the replicas, which outlive the daemon
on purpose, never hold the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from coalmine.errors import CoalmineError

__all__ = ["StateLock"]


class StateLock:
    """The exclusive lock of one state directory; `acquire` or raise naming the holder."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "up.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise CoalmineError naming the `coalmine up` that holds it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"a coalmine up (pid {holder})" if holder else "another coalmine up"
            raise CoalmineError(
                f"{who} already runs with state directory {self.path.parent};"
                " stop it first, or use another --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
