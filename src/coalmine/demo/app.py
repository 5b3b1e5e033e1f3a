"""The demo service: coalmine's Python equivalent of the workshop's go-demo-7.

It gives a canary something to judge: a greeting that names its release, an
endpoint that fails about one time in five, delays on request or by
configuration, and its own Prometheus metrics.

    GET /demo/hello[?delay=MS]   "hello, world! version X"; sleeps first when asked
    GET /demo/hello?health=true  the probe: answers at once, whatever the delays
    GET /demo/random-error       500 for a share of requests (error_rate), else 200
    GET /version, GET /          "Version: X; Release: <"release" header or unknown>"
    GET /metrics                 this app's own metrics (see `demo.metrics`)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from coalmine.demo.metrics import DemoMetrics
from coalmine.demo.settings import MAX_DELAY_MS, DemoSettings

__all__ = ["METRICS", "SETTINGS", "create_app"]

SETTINGS = web.AppKey("settings", DemoSettings)
METRICS = web.AppKey("metrics", DemoMetrics)
RANDOM = web.AppKey("random", random.Random)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: DemoSettings, *, rng: random.Random | None = None) -> web.Application:
    """A demo app; pass a seeded `rng` to make its errors and random delays repeatable."""
    app = web.Application(middlewares=[_measure])
    app[SETTINGS] = settings
    app[METRICS] = DemoMetrics(settings.version)
    app[RANDOM] = rng or random.Random()  # noqa: S311 - a demo's dice, not cryptography
    app.router.add_get("/demo/hello", _hello)
    app.router.add_get("/demo/random-error", _random_error)
    app.router.add_get("/version", _version)
    app.router.add_get("/", _version)
    app.router.add_get("/metrics", _metrics)
    return app


async def _hello(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if request.query.get("health") != "true":
        await asyncio.sleep(_requested_delay(request) + _configured_delay(request))
    return web.Response(text=f"hello, world! version {settings.version}\n")


def _requested_delay(request: web.Request) -> float:
    """Seconds asked for by `?delay=<ms>`; a bad value is the client's error (400)."""
    text = request.query.get("delay")
    if text is None:
        return 0.0
    if not text.isdigit() or int(text) > MAX_DELAY_MS:
        raise web.HTTPBadRequest(
            text=f"delay: must be a whole number of milliseconds from 0 to {MAX_DELAY_MS}, "
            f"got {text!r}\n"
        )
    return int(text) / 1000


def _configured_delay(request: web.Request) -> float:
    """Seconds of delay the release itself adds (DEMO_DELAY_MS, DEMO_RANDOM_DELAY_MAX_MS)."""
    settings = request.app[SETTINGS]
    extra = 0
    if settings.random_delay_max_ms:
        extra = request.app[RANDOM].randint(0, settings.random_delay_max_ms)
    return (settings.delay_ms + extra) / 1000


async def _random_error(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if request.app[RANDOM].random() < settings.error_rate:
        text = f"ERROR: Something, somewhere, went wrong! version {settings.version}\n"
        return web.Response(status=500, text=text)
    return web.Response(text=f"Everything is still OK, version {settings.version}\n")


async def _version(request: web.Request) -> web.Response:
    release = request.headers.get("release") or "unknown"
    return web.Response(text=f"Version: {request.app[SETTINGS].version}; Release: {release}\n")


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].exposition(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


@web.middleware
async def _measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every answered request except the scrapes of /metrics themselves."""
    path = _route_path(request)
    if path == "/metrics":
        return await handler(request)
    metrics = request.app[METRICS]
    started = time.perf_counter()
    metrics.in_flight.inc()
    code: int | None = 500  # what aiohttp answers when a handler raises something else
    try:
        response = await handler(request)
        code = response.status
        return response
    except web.HTTPException as answered:
        code = answered.status
        raise
    except asyncio.CancelledError:
        code = None  # never answered: the server is shutting down
        raise
    finally:
        metrics.in_flight.dec()
        if code is not None:
            metrics.observe(request.method, path, code, time.perf_counter() - started)


def _route_path(request: web.Request) -> str:
    """The route's own path ("other" for no route), so a scan of random URLs adds no series."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"
