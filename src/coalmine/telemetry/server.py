"""Serving `/metrics` from a registry, for the controller and `coalmine up` to mount.

Content negotiation is prometheus-client's: OpenMetrics when the scraper asks for it
(Prometheus does), the classic text format otherwise. prometheus-client renders the
registry but its grouped series (the per-canary families), whose text is kept between
scrapes (`telemetry.grouped_series`): the scrape, on the operator's event loop, joins it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from coalmine.telemetry.grouped_series import rendered_apart

__all__ = ["METRICS_PATH", "add_metrics_route", "exposition", "metrics_app", "metrics_handler"]

METRICS_PATH = "/metrics"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def metrics_handler(registry: CollectorRegistry) -> Handler:
    """An aiohttp handler that renders `registry` at each request."""

    async def serve_metrics(request: web.Request) -> web.Response:
        body, content_type = exposition(registry, request.headers.get(hdrs.ACCEPT, ""))
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: content_type})

    return serve_metrics


def exposition(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The registry's text in the format `accept` asks for, and its content type."""
    encode, content_type = choose_encoder(accept)
    openmetrics = content_type.startswith("application/openmetrics-text")
    with rendered_apart(registry) as groups:
        rest: bytes = encode(registry)
    kept = b"".join(group.exposition(openmetrics=openmetrics) for group in groups)
    if openmetrics:  # (its text ends with "# EOF")
        return rest.removesuffix(b"# EOF\n") + kept + b"# EOF\n", content_type
    return rest + kept, content_type


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
