"""Start one replica's process and stop it again, the way a container runtime would.

The process runs in its own session (so its group can be signalled as a whole), with
stdout and stderr appended to its log file, no shell in between, and, on Linux, a
parent-death signal so that it dies with the daemon even when the daemon is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from coalmine.errors import AdapterError
from coalmine.local.processes import procfs

__all__ = ["LaunchSpec", "RunningProcess", "append_log_line", "launch"]

GROUP_SWEEP_WAIT = 5.0
"""Seconds to wait for what a process left in its group to die after SIGKILL."""

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>: the signal a process gets when the thread that forked it exits."""


@dataclass(frozen=True)
class LaunchSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | None
    log_path: Path
    marker: str
    """A "NAME=value" environment entry only this process (and its children) carries."""


@dataclass
class RunningProcess:
    spec: LaunchSpec
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    start_ticks: int | None = None
    """From /proc: with the pid, it identifies the process even after pid reuse."""

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self) -> int:
        """Wait for the process to exit; then kill what it left behind in its group."""
        code = await self.process.wait()
        left = kill_marked_group(self.pid, self.spec.marker, signal.SIGKILL)
        await procfs.wait_until_gone(left, GROUP_SWEEP_WAIT)
        return code

    async def terminate(self, grace: float, kill_wait: float) -> int:
        """SIGTERM to the group, SIGKILL after `grace` seconds. Returns the exit code."""
        if self.process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    return await self.wait()
            except TimeoutError:
                self._signal_group(signal.SIGKILL)
        try:
            async with asyncio.timeout(kill_wait):
                return await self.wait()
        except TimeoutError as error:
            raise AdapterError(
                f"process {self.pid} did not exit {kill_wait}s after SIGKILL"
            ) from error

    def _signal_group(self, sig: signal.Signals) -> None:
        # Safe while the leader is unreaped: its pid cannot name another group meanwhile.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)


def kill_marked_group(pgid: int, marker: str, sig: signal.Signals) -> list[int]:
    """Signal the live members of a group that carry `marker`; returns their pids.

    Like the end of a container: when its main process is gone, the rest goes too.
    Checking the marker makes sure a reused pid or group id never hits a stranger.
    """
    hit = []
    for member in procfs.group_members(pgid):
        if procfs.has_env(member.pid, marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, sig)
                hit.append(member.pid)
    return hit


async def launch(spec: LaunchSpec) -> RunningProcess:
    """Start the process. Raises OSError (e.g. no such command) or SubprocessError."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    with spec.log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(spec.env),
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # no shell; the hook takes no locks
        )
    info = procfs.proc_info(process.pid)
    return RunningProcess(spec, process, start_ticks=info.start_ticks if info else None)


def append_log_line(path: Path, text: str) -> None:
    """A line of coalmine's own in the replica's log ("started", "exited with ...")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    with path.open("a", encoding="utf-8") as log:
        log.write(f"--- {stamp} coalmine: {text}\n")


def describe_argv(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec function that makes the child get SIGKILL when the daemon dies (Linux).

    Strictly, when the thread that forked it exits: the event loop's thread, which
    lives as long as the daemon does.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def in_child() -> None:
        if prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL)) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the daemon died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child
