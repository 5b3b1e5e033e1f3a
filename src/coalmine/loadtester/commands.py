"""Running one command: no shell of our own, a deadline, and nothing left behind.

A command runs in its own process group, so that a timeout (or the load tester
shutting down) ends the command and every process it started, not only the first.

Deadlines are `asyncio.timeout`, never `asyncio.wait_for`: in Python 3.11 wait_for
returns normally when the command ends in the same loop iteration as a cancellation
(the load tester shutting down), and the cancellation is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CommandResult", "RunningCommand"]

MAX_OUTPUT = 64 * 1024
"""Bytes of output kept (the last ones): enough to explain a failure."""

GRACE_SECONDS = 2.0
"""Between SIGTERM and SIGKILL, for tools that print a summary when stopped."""


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    """None when the command was killed on its deadline."""
    output: str
    """stdout and stderr together, the last MAX_OUTPUT bytes."""
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """Why it failed, for a log line or a webhook's answer."""
        if self.exit_code is None:
            return f"killed at its timeout, after {self.seconds:.1f}s"
        return f"exit code {self.exit_code}"


class RunningCommand:
    """A started process. `start` raises OSError when it cannot start (not found, ...)."""

    def __init__(self, process: asyncio.subprocess.Process, started: float) -> None:
        self.process = process
        self.started = started
        self._output = bytearray()
        assert process.stdout is not None
        self._reader = asyncio.create_task(self._read(process.stdout))

    @classmethod
    async def start(cls, argv: Sequence[str]) -> RunningCommand:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(process, asyncio.get_running_loop().time())

    async def finish(self, deadline: float) -> CommandResult:
        """Wait for the command; past `deadline` seconds, stop it. Always reaps it."""
        timed_out = False
        try:
            async with asyncio.timeout(deadline):
                await self.process.wait()
        except TimeoutError:
            timed_out = True
            await self._stop()
        finally:
            if self.process.returncode is None:  # cancelled: the server is stopping
                await asyncio.shield(self._stop())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.shield(self._reader)
        self._reader.cancel()
        elapsed = asyncio.get_running_loop().time() - self.started
        output = self._output.decode(errors="replace")
        return CommandResult(None if timed_out else self.process.returncode, output, elapsed)

    async def _stop(self) -> None:
        self._signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(GRACE_SECONDS):
                await self.process.wait()
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.process.wait()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self._output += chunk
            if len(self._output) > MAX_OUTPUT:
                del self._output[: len(self._output) - MAX_OUTPUT]
