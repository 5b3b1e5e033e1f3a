"""A recording HTTP server for the load generator's tests: what arrived, when, how many at once.

/status/{code}   answers with that status
/slow/{ms}       answers 200 after that many milliseconds
/hold            answers 200 when the test sets `server.release` (or after 30 s)
/echo            answers 200; the request's method, headers and body are kept
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RecordingServer:
    url: str = ""
    arrivals: list[float] = field(default_factory=list)
    """time.monotonic() of each request's arrival."""
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    echoed: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @web.middleware
    async def record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="slow")

    async def hold(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.release.wait(), timeout=30)
        return web.Response(text="held")

    async def echo(self, request: web.Request) -> web.Response:
        self.echoed.append((request.method, dict(request.headers), await request.read()))
        return web.Response(text="echo")


@pytest.fixture
async def server() -> AsyncIterator[RecordingServer]:
    recording = RecordingServer()
    app = web.Application(middlewares=[recording.record])
    app.router.add_get("/status/{code}", recording.status)
    app.router.add_get("/slow/{ms}", recording.slow)
    app.router.add_get("/hold", recording.hold)
    app.router.add_route("*", "/echo", recording.echo)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    recording.url = f"http://{host}:{port}"
    try:
        yield recording
    finally:
        recording.release.set()
        await runner.cleanup()
