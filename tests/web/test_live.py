"""The dashboard's poller and render cache, with a source held in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from coalmine.history.model import History
from coalmine.targets.base import Asked, CanaryView
from coalmine.web.live import Hub
from coalmine.web.source import Weights


class CountingSource:
    description = "memory"
    period = 0.01

    def __init__(self) -> None:
        self.current = "1"
        self.fail = False

    async def canaries(self) -> list[CanaryView]:
        return []

    async def weights(self, canaries: Sequence[CanaryView]) -> Weights:
        return {}

    async def history(self, namespace: str, name: str) -> History:
        raise NotImplementedError

    async def ask(self, namespace: str, name: str, asked: Asked, by: str) -> str:
        raise NotImplementedError

    async def version(self) -> str:
        if self.fail:
            raise ConnectionError("gone")
        return self.current


async def test_pages_of_one_view_share_one_render_per_version() -> None:
    source = CountingSource()
    hub = Hub(source, period=source.period)
    hub.start()
    renders = 0

    async def render() -> dict[str, str]:
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.01)
        return {"part": source.current}

    try:
        assert await hub.wait(None, 1.0) == "1"
        pages = await asyncio.gather(*(hub.render("view", render) for _ in range(20)))
        assert renders == 1 and all(p == {"part": "1"} for p in pages)
        source.current = "2"
        assert await hub.wait("1", 1.0) == "2"
        assert await hub.render("view", render) == {"part": "2"} and renders == 2
    finally:
        await hub.stop()


async def test_a_wait_ends_at_its_timeout_and_a_failing_source_keeps_the_version() -> None:
    source = CountingSource()
    hub = Hub(source, period=source.period)
    hub.start()
    try:
        assert await hub.wait(None, 1.0) == "1"
        source.fail = True
        assert await hub.wait("1", 0.05) == "1"
        source.fail, source.current = False, "3"
        assert await hub.wait("1", 1.0) == "3"
    finally:
        await hub.stop()


async def test_a_wait_cancelled_as_the_version_moves_is_cancelled() -> None:
    """Python 3.11's `wait_for` lost a cancellation landing with the change: the page's
    stream went on rendering while the server stopped."""
    hub = Hub(CountingSource())  # no poller: the test plays its part
    waiting = asyncio.ensure_future(hub.wait(hub.version, 60.0))
    for _ in range(5):
        await asyncio.sleep(0)  # waiting for a change
    assert not waiting.done()

    hub._changed.set()  # what the poller does when the version moves ...
    waiting.cancel()  # ... and the cancellation lands in the same iteration
    for _ in range(20):  # loop iterations, not time
        await asyncio.sleep(0)

    assert waiting.cancelled(), f"the cancellation was lost: {waiting}"
