"""The dashboard's aiohttp application, and `serve` (127.0.0.1, a free port)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from coalmine.errors import CoalmineError, NotFound
from coalmine.local.api import bound_port
from coalmine.targets.asking import ASKED
from coalmine.targets.base import CanaryView
from coalmine.web.auth import Access, access_middleware
from coalmine.web.live import Hub, Parts
from coalmine.web.pages import canary_page, canary_parts, overview_page, overview_parts
from coalmine.web.source import Source

__all__ = ["Dashboard", "make_app", "serve"]

KEEPALIVE_SECONDS = 15.0
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


@dataclass(frozen=True)
class Dashboard:
    url: str
    """The address to open once: it carries the token."""
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


def make_app(source: Source, access: Access, *, by: str) -> web.Application:
    """`by` is who runs the dashboard: recorded as "<by> (dashboard)" when a button asks."""
    hub = Hub(source, period=source.period)
    views = _Views(source, hub)
    app = web.Application(middlewares=[access_middleware(access)])
    app.router.add_get("/", views.overview(access))
    app.router.add_get("/stream", views.overview_stream)
    app.router.add_get("/canaries/{namespace}/{name}", views.canary(access))
    app.router.add_get("/stream/canaries/{namespace}/{name}", views.canary_stream)
    app.router.add_post("/canaries/{namespace}/{name}/{asked}", _ask(source, f"{by} (dashboard)"))
    app.router.add_get("/static/{file}", _static)

    async def start(_: web.Application) -> None:
        hub.start()

    async def stop(_: web.Application) -> None:
        await hub.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app


async def serve(
    source: Source, token: str, *, by: str, host: str = "127.0.0.1", port: int = 0
) -> Dashboard:
    app = make_app(source, Access(token), by=by)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return Dashboard(f"http://{host}:{bound_port(site)}/?token={token}", runner)


def _filters(request: web.Request) -> tuple[str | None, str | None]:
    return request.query.get("namespace") or None, request.query.get("phase") or None


class _Views:
    def __init__(self, source: Source, hub: Hub) -> None:
        self.source = source
        self.hub = hub

    async def _overview_parts(
        self, namespace: str | None, phase: str | None, canaries: list[CanaryView] | None = None
    ) -> Parts:
        if canaries is None:
            canaries = await self.source.canaries()
        weights = await self.source.weights(canaries)
        return overview_parts(canaries, weights, namespace, phase)

    def overview(self, access: Access) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            namespace, phase = _filters(request)
            canaries = await self.source.canaries()
            parts = await self._overview_parts(namespace, phase, canaries)
            namespaces = sorted({c.namespace for c in canaries})
            page = overview_page(
                parts,
                namespaces,
                namespace,
                phase,
                csrf=access.csrf,
                source=self.source.description,
            )
            return _html(page)

        return handler

    async def overview_stream(self, request: web.Request) -> web.StreamResponse:
        namespace, phase = _filters(request)

        async def render() -> Parts:
            return await self._overview_parts(namespace, phase)

        return await self._stream(request, f"overview {namespace} {phase}", render)

    def canary(self, access: Access) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            info, revision = request.match_info, request.query.get("revision") or None
            history = await self.source.history(info["namespace"], info["name"])
            parts = canary_parts(history, revision)
            page = canary_page(
                history, revision, parts, csrf=access.csrf, source=self.source.description
            )
            return _html(page)

        return handler

    async def canary_stream(self, request: web.Request) -> web.StreamResponse:
        info, revision = request.match_info, request.query.get("revision") or None

        async def render() -> Parts:
            history = await self.source.history(info["namespace"], info["name"])
            return canary_parts(history, revision)

        view = f"canary {info['namespace']} {info['name']} {revision}"
        return await self._stream(request, view, render)

    async def _stream(self, request: web.Request, view: str, render: Any) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        seen: str | None = None
        sent: Parts = {}
        try:
            while True:
                version = await self.hub.wait(seen, KEEPALIVE_SECONDS)
                if version == seen and sent:
                    await response.write(b": keep-alive\n\n")
                    continue
                seen = version
                parts = await self.hub.render(view, render)
                changed = {k: v for k, v in parts.items() if sent.get(k) != v}
                if changed:
                    await response.write(f"data: {json.dumps(changed)}\n\n".encode())
                sent = parts
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def _ask(source: Source, by: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        asked = info["asked"]
        if asked not in ASKED:
            return web.json_response({"error": f"use one of {', '.join(ASKED)}"}, status=404)
        try:
            said = await source.ask(info["namespace"], info["name"], asked, by)
        except NotFound as error:
            return web.json_response({"error": str(error)}, status=404)
        except CoalmineError as error:
            return web.json_response({"error": str(error)}, status=409)
        return web.json_response({"said": said})

    return handler


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = resources.files("coalmine.web").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=STATIC[name], headers={"Cache-Control": "no-cache"})


def _html(page: str) -> web.Response:
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
