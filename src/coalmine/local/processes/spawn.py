"""Start one replica's process and stop it again, the way a container runtime would.

The process runs in its own session (so its group can be signalled as a whole, and a
Ctrl-C in the terminal of `coalmine up` does not reach it), with stdout and stderr
appended to its log file and no shell in between. It has no parent-death signal on
purpose: like a pod that outlives the API server, a replica keeps serving when
`coalmine up` dies, and the next `coalmine up` adopts it (see `adoption`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from coalmine.errors import AdapterError
from coalmine.local.processes import procfs
from coalmine.local.processes.handle import ProcessHandle

__all__ = ["LaunchSpec", "RunningProcess", "append_log_line", "launch"]

GROUP_SWEEP_WAIT = 5.0
"""Seconds to wait for what a process left in its group to die after SIGKILL."""


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
    process: ProcessHandle
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def start_ticks(self) -> int | None:
        """From /proc: with the pid, it identifies the process even after pid reuse."""
        return self.process.start_ticks

    @property
    def running(self) -> bool:
        return self.process.running

    async def wait(self) -> int | None:
        """Wait for the process to exit; then kill what it left behind in its group.
        The exit code; None for an adopted process (init reaped it, not us)."""
        code = await self.process.wait()
        left = kill_marked_group(self.pid, self.spec.marker, signal.SIGKILL)
        await procfs.wait_until_gone(left, GROUP_SWEEP_WAIT)
        return code

    async def terminate(self, grace: float, kill_wait: float) -> int | None:
        """SIGTERM to the group, SIGKILL after `grace` seconds. Returns the exit code."""
        if self.process.running:
            self.process.signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    return await self.wait()
            except TimeoutError:
                self.process.signal_group(signal.SIGKILL)
        try:
            async with asyncio.timeout(kill_wait):
                return await self.wait()
        except TimeoutError as error:
            raise AdapterError(
                f"process {self.pid} did not exit {kill_wait}s after SIGKILL"
            ) from error

    def detach(self) -> None:
        """Stop watching it and leave it running (for the next `coalmine up` to adopt)."""
        self.process.close()


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
    return RunningProcess(spec, ProcessHandle.spawn(_popen(spec)))


def _popen(spec: LaunchSpec) -> subprocess.Popen[bytes]:
    """fork+exec (vfork: no pre-exec hook, so nothing runs between them): as quick as the
    event loop's own subprocess start, without its child-watcher thread."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    with spec.log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - the manifest's command, never a shell
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(spec.env),
            cwd=spec.cwd,
            start_new_session=True,
        )


def append_log_line(path: Path, text: str) -> None:
    """A line of coalmine's own in the replica's log ("started", "exited with ...")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    with path.open("a", encoding="utf-8") as log:
        log.write(f"--- {stamp} coalmine: {text}\n")


def describe_argv(argv: Sequence[str]) -> str:
    return shlex.join(argv)
