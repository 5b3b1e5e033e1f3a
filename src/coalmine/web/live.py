"""Live pages: one poller per server, and server-sent events to every open page.

The poller asks the source for its version a few times a second (inside `coalmine up`
four index lookups in SQLite). When it moves, each open stream re-renders its parts,
through a cache keyed by view and version so twenty pages of one canary cost one
render, and sends only the parts that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from coalmine.web.source import Source

__all__ = ["Hub", "Parts"]

log = logging.getLogger(__name__)

Parts = dict[str, str]


class Hub:
    def __init__(self, source: Source, *, period: float = 0.25) -> None:
        self.source = source
        self.period = period
        self.version: str | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cache: dict[tuple[str, str], Parts] = {}
        self._rendering: dict[tuple[str, str], asyncio.Task[Parts]] = {}

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="dashboard poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            version: str | None
            try:
                version = await self.source.version()
            except Exception:  # the source comes back: keep the pages, retry
                log.warning("the dashboard could not read its source", exc_info=True)
                version = self.version
            if version != self.version:
                self.version = version
                self._cache.clear()
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(self.period)

    async def wait(self, seen: str | None, within: float) -> str | None:
        """The version once it differs from `seen`, or the same after `within` seconds."""
        if self.version != seen:
            return self.version
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for returns normally when a
        # change and the stream's cancellation (the server stopping) land in the same loop
        # iteration, and the stream then renders and waits on, holding the shutdown up.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._changed.wait()
        return self.version

    async def render(self, view: str, render: Callable[[], Awaitable[Parts]]) -> Parts:
        """`render()` once per view and version, however many pages ask."""
        key = (view, self.version or "")
        if key in self._cache:
            return self._cache[key]
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.ensure_future(render())
            self._rendering[key] = task
            task.add_done_callback(lambda _: self._rendering.pop(key, None))
        parts = await asyncio.shield(task)
        if key[1] == (self.version or ""):
            self._cache[key] = parts
        return parts
