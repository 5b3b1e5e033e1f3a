"""A running command stops waiting when cancelled, whatever moment the cancellation lands on.

The load tester cancels the commands' tasks when it shuts down. In Python 3.11,
`asyncio.wait_for` returns normally when the command ends in the same loop iteration as
the cancellation, which is then lost: the task went on and answered as if nothing had
happened. The moment is made exact with a process whose exit the test decides.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from coalmine.loadtester.commands import RunningCommand


class ExitingProcess:
    """The parts of `asyncio.subprocess.Process` that `RunningCommand` uses; exits on `end`."""

    pid = -1  # never signalled: it has exited before anything could stop it

    def __init__(self) -> None:
        self.stdout = asyncio.StreamReader()
        self.returncode: int | None = None
        self._ended = asyncio.Event()

    async def wait(self) -> int:
        await self._ended.wait()
        assert self.returncode is not None
        return self.returncode

    def end(self) -> None:
        self.stdout.feed_eof()
        self.returncode = 0
        self._ended.set()


async def test_a_cancellation_that_lands_as_the_command_ends_is_not_lost() -> None:
    process = ExitingProcess()
    command = RunningCommand(cast(Any, process), asyncio.get_running_loop().time())
    finishing = asyncio.ensure_future(command.finish(deadline=60))
    for _ in range(5):
        await asyncio.sleep(0)  # waiting for the process

    process.end()  # the exit completes the wait in this iteration ...
    finishing.cancel()  # ... and the cancellation lands in it
    for _ in range(20):  # loop iterations, not time
        await asyncio.sleep(0)

    assert finishing.cancelled(), f"the cancellation was lost: {finishing}"


async def test_a_command_that_ends_is_reported_with_its_output() -> None:
    process = ExitingProcess()
    command = RunningCommand(cast(Any, process), asyncio.get_running_loop().time())
    finishing = asyncio.ensure_future(command.finish(deadline=60))
    process.stdout.feed_data(b"done\n")
    process.end()

    async with asyncio.timeout(10):
        result = await finishing

    assert (result.exit_code, result.output, result.ok) == (0, "done\n", True)
