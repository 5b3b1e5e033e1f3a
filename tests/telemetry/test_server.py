from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from coalmine.telemetry import add_metrics_route, metrics_app
from tests.fixtures.telemetry import labels, parse, scrape, served


async def test_metrics_serves_the_registry_it_was_given_in_text_format() -> None:
    registry = CollectorRegistry()
    Gauge("coalmine_test_gauge", "a gauge", ["canary"], registry=registry).labels("a").set(7)

    async with served(metrics_app(registry)) as base:
        text, content_type = await scrape(base)

    assert content_type.startswith("text/plain")
    assert parse(text) == {("coalmine_test_gauge", labels(canary="a")): 7.0}


async def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    registry = CollectorRegistry()
    Gauge("coalmine_test_gauge", "a gauge", registry=registry).set(1)

    async with served(metrics_app(registry)) as base:
        text, content_type = await scrape(base, accept="application/openmetrics-text")

    assert content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def test_the_route_mounts_on_an_existing_application() -> None:
    registry = CollectorRegistry()
    Gauge("coalmine_test_gauge", "a gauge", registry=registry).set(3)
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    add_metrics_route(app, registry)

    async with served(app) as base:
        text, _ = await scrape(base)

    assert parse(text)[("coalmine_test_gauge", labels())] == 3.0
