"""Client side of the data-plane tests: bursts of requests and continuous load."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Answer:
    status: int
    """HTTP status, or 0 when the request failed without one (connection refused...)."""
    backend: str
    started: float
    error: str = ""
    elapsed: float = 0.0
    """Seconds from sending the request to reading the whole answer, as the client saw it."""


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> Answer:
    started = time.monotonic()
    try:
        async with session.get(url, headers=headers) as response:
            await response.read()
            elapsed = time.monotonic() - started
            return Answer(
                response.status, response.headers.get("x-backend", ""), started, "", elapsed
            )
    except (aiohttp.ClientError, TimeoutError) as error:
        return Answer(0, "", started, repr(error))


async def burst(
    session: aiohttp.ClientSession,
    url: str,
    count: int,
    *,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
) -> list[Answer]:
    """`count` requests, `concurrency` at a time."""
    answers: list[Answer] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            answers.append(await get(session, url, headers))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def backends(answers: list[Answer]) -> collections.Counter[str]:
    return collections.Counter(answer.backend for answer in answers)


def statuses(answers: list[Answer]) -> collections.Counter[int]:
    return collections.Counter(answer.status for answer in answers)


@dataclass
class Load:
    """Requests sent back to back by `workers` clients until stopped."""

    session: aiohttp.ClientSession
    url: str
    workers: int = 8
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> list[Answer]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.answers

    async def more(self, count: int, timeout_s: float = 10.0) -> None:
        """Wait until `count` more answers have arrived."""
        target = len(self.answers) + count
        deadline = time.monotonic() + timeout_s
        while len(self.answers) < target:
            assert time.monotonic() < deadline, f"load stalled at {len(self.answers)} answers"
            await asyncio.sleep(0.005)

    def failures(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200]

    async def _worker(self) -> None:
        while not self._stop.is_set():
            self.answers.append(await get(self.session, self.url))


async def eventually(condition: Callable[[], bool], message: str, timeout_s: float = 15.0) -> None:
    """Wait until `condition()` holds; fail with `message` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.01)
