"""Small aiohttp backends for the data-plane tests: each answers with its own name.

A backend can fail exactly every n-th request, sleep a fixed delay, sleep on every n-th
request only, fail the first attempt of each request id (to see retries), and it
remembers the headers it received and how many requests it served.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(eq=False)
class Behaviour:
    fail_every: int = 0
    """Answer 500 to every n-th request (0: never)."""
    delay_ms: float = 0.0
    """Sleep this long before every answer."""
    slow_every: int = 0
    """Sleep `slow_ms` before every n-th answer (0: never)."""
    slow_ms: float = 0.0


@dataclass(eq=False)
class Backend:
    name: str
    behaviour: Behaviour = field(default_factory=Behaviour)
    port: int = 0
    hits: int = 0
    headers: list[dict[str, list[str]]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    """The path and query of each request, as it arrived."""
    attempts: collections.Counter[str] = field(default_factory=collections.Counter)
    _runner: web.AppRunner | None = None

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_route("*", "/fail-first-attempt", self._fail_first_attempt)
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _answer(self, request: web.Request) -> web.Response:
        self.hits += 1
        count = self.hits
        self._remember(request)
        behaviour = self.behaviour
        delay = behaviour.delay_ms + float(request.query.get("delay", 0))
        if behaviour.slow_every and count % behaviour.slow_every == 0:
            delay += behaviour.slow_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        status = 500 if behaviour.fail_every and count % behaviour.fail_every == 0 else 200
        return web.Response(text=self.name, status=status, headers={"x-backend": self.name})

    async def _fail_first_attempt(self, request: web.Request) -> web.Response:
        """503 the first time a request id is seen, 200 after: shows retries happen."""
        self.hits += 1
        request_id = request.headers.get("x-request-id", "")
        self.attempts[request_id] += 1
        status = 503 if self.attempts[request_id] == 1 else 200
        return web.Response(text=self.name, status=status, headers={"x-backend": self.name})

    def _remember(self, request: web.Request) -> None:
        self.paths.append(request.raw_path)
        seen: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            seen.setdefault(name.lower(), []).append(value)
        self.headers.append(seen)

    def last_headers(self) -> dict[str, list[str]]:
        return self.headers[-1]

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, port={self.port}, hits={self.hits})"
