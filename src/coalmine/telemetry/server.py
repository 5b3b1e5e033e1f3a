"""Serving `/metrics` from a registry, for the controller and `coalmine up` to mount.

Content negotiation is prometheus-client's: OpenMetrics when the scraper asks for it
(Prometheus does), the classic text format otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["METRICS_PATH", "add_metrics_route", "metrics_app", "metrics_handler"]

METRICS_PATH = "/metrics"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def metrics_handler(registry: CollectorRegistry) -> Handler:
    """An aiohttp handler that renders `registry` at each request."""

    async def serve_metrics(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get(hdrs.ACCEPT, ""))
        return web.Response(body=encode(registry), headers={hdrs.CONTENT_TYPE: content_type})

    return serve_metrics


def add_metrics_route(
    app: web.Application, registry: CollectorRegistry, path: str = METRICS_PATH
) -> None:
    """Mount `GET path` on an existing application (the dashboard, the daemon API)."""
    app.router.add_get(path, metrics_handler(registry))


def metrics_app(registry: CollectorRegistry) -> web.Application:
    """An application that serves only `/metrics`, for a dedicated metrics port."""
    app = web.Application()
    add_metrics_route(app, registry)
    return app
