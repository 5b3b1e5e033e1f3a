"""A process we started, or adopted from a previous `coalmine up`, watched through a pidfd.

Why not `asyncio.create_subprocess_exec`: its child watcher (Python 3.11: one thread per
child, blocked in `os.waitpid`) can only wait for our own children, and a process that a
killed `coalmine up` left running is not our child: it was re-parented to init. A pidfd
(`pidfd_open`, Linux 5.3) works for both. It becomes readable when the process exits,
and it names exactly one process, so a signal sent through it can never hit a stranger
that reused the pid. A child is reaped by `Popen.wait()` once the pidfd says it exited
(no thread, no `os.waitpid` left blocked); an adopted process is reaped by init, and its
exit code is not ours to know.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess

from coalmine.local.processes import procfs

__all__ = ["Popen", "ProcessHandle", "reap_exited"]

Popen = subprocess.Popen[bytes]

_LEFT_RUNNING: list[Popen] = []
"""Children this process detached from and left running (see `ProcessHandle.close`)."""

_UNREAPED: dict[int, Popen] = {}
"""Children started here and not reaped yet, by pid: kept referenced so that one whose
handle was dropped (a stop cut short by its deadline, then SIGKILL) is still reaped by
`reap_exited` instead of lingering as a zombie that Python warns about when collected."""


def reap_exited(pids: set[int]) -> int:
    """Reap those of `pids` (children started here) that have exited; how many still run."""
    running = 0
    for pid in pids:
        popen = _UNREAPED.get(pid)
        if popen is None:
            continue
        if popen.poll() is None:
            running += 1
        else:
            del _UNREAPED[pid]
    return running


class ProcessHandle:
    """One live process: wait for it to exit, signal it. Close it when done."""

    def __init__(self, pid: int, pidfd: int, start_ticks: int | None, popen: Popen | None) -> None:
        self.pid = pid
        self.start_ticks = start_ticks
        """From /proc/<pid>/stat: with the pid, names this process forever."""
        self._pidfd: int | None = pidfd
        self._popen = popen
        self._exited = False
        self._exited_future: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.returncode: int | None = None
        """The exit code (negative: killed by that signal) of a child once it exited; an
        adopted process's stays None."""

    @classmethod
    def spawn(cls, popen: Popen) -> ProcessHandle:
        """Watch a child just started with `subprocess.Popen`."""
        pidfd = os.pidfd_open(popen.pid)
        info = procfs.proc_info(popen.pid)
        _UNREAPED[popen.pid] = popen
        return cls(popen.pid, pidfd, info.start_ticks if info else None, popen)

    @classmethod
    def adopt(cls, pid: int, start_ticks: int | None) -> ProcessHandle | None:
        """The process `pid` if it still runs and started at `start_ticks` (so it is the one
        recorded, not a reuse of its pid); None otherwise."""
        try:
            pidfd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            return None
        info = procfs.proc_info(pid)  # checked after pinning it with the pidfd
        if info is None or info.state in ("Z", "X") or info.start_ticks != start_ticks:
            os.close(pidfd)
            return None
        return cls(pid, pidfd, start_ticks, None)

    @property
    def adopted(self) -> bool:
        return self._popen is None

    @property
    def running(self) -> bool:
        if self._exited:
            return False
        if self._popen is not None:
            return self._popen.poll() is None
        return procfs.is_running(self.pid)

    async def wait(self) -> int | None:
        """Wait until the process exits; its exit code (None for an adopted process).
        Any number of callers may wait at once; cancelling one leaves the others waiting."""
        if not self._exited and self._pidfd is not None:
            await asyncio.shield(self._exit())
            self._exited = True
        if self._popen is not None and self.returncode is None:
            self.returncode = self._popen.wait()  # exited already: this only reaps it
            _UNREAPED.pop(self.pid, None)
        self._close_pidfd()
        return self.returncode

    def _exit(self) -> asyncio.Future[None]:
        """Resolved when the pidfd turns readable: one reader, however many waiters."""
        if self._exited_future is None:
            assert self._pidfd is not None
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            pidfd = self._pidfd

            def readable() -> None:
                loop.remove_reader(pidfd)
                if not future.done():
                    future.set_result(None)

            loop.add_reader(pidfd, readable)
            self._exited_future, self._loop = future, loop
        return self._exited_future

    def send_signal(self, sig: signal.Signals) -> bool:
        """Signal the process itself; False when it is gone already."""
        if self._exited or self._pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:
            return False
        return True

    def signal_group(self, sig: signal.Signals) -> None:
        """Signal the process's whole group (it leads one: it was started in its own
        session), each member once. Only while the leader lives (checked through the
        pidfd, which sends nothing for signal 0), so the group id cannot name another group.

        Once, the leader included: a program that handles the first SIGTERM by shutting
        down gracefully and takes a second one as "quit now" (the demo app restores the
        default action while it finishes its requests) must not get two. Sending through
        the pidfd and then to the group did that, and on a loaded machine the second
        signal could arrive after the first was handled: the replica died with requests in
        flight (Envoy's 503 UC, upstream_cx_destroy_remote_with_active_rq)."""
        if self._exited or self._pidfd is None:
            return
        try:
            signal.pidfd_send_signal(self._pidfd, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def close(self) -> None:
        """Stop watching (the process keeps running): for a `coalmine up` that leaves."""
        if self._popen is not None and self._popen.returncode is None:
            # Left running on purpose: keep the Popen referenced, or Python warns that the
            # subprocess "is still running" when it is collected.
            _LEFT_RUNNING.append(self._popen)
            _UNREAPED.pop(self.pid, None)
        self._close_pidfd()

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            future = self._exited_future
            if future is not None and not future.done() and self._loop is not None:
                self._loop.remove_reader(self._pidfd)
                future.cancel()
            os.close(self._pidfd)
            self._pidfd = None
