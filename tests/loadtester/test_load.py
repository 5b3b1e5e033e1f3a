"""The `load` task: the requested rate, counted by the server that receives it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from coalmine.loadtester import plan_from_metadata
from tests.fixtures.hooks import post_json, serve

CANARY = {"name": "go-demo-7", "namespace": "test"}


@pytest.mark.slow
async def test_load_sends_the_requested_rate_once_per_canary(loadtester: str) -> None:
    arrivals: list[float] = []
    seen_headers: set[str] = set()
    loop = asyncio.get_running_loop()

    async def count(request: web.Request) -> web.Response:
        arrivals.append(loop.time())
        seen_headers.add(request.headers.get("X-Canary", ""))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/demo/hello", count)
    runner, target = await serve(app)
    metadata = {
        "type": "load",
        "url": f"{target}/demo/hello",
        "method": "POST",
        "rps": "80",
        "duration": "5s",
        "headers": "X-Canary: insider\n",
    }
    try:
        first = await post_json(f"{loadtester}/", {**CANARY, "metadata": metadata})
        second = await post_json(f"{loadtester}/", {**CANARY, "metadata": metadata})
        await asyncio.sleep(6)
    finally:
        await runner.cleanup()

    assert first == (202, "started for go-demo-7.test")
    assert second == (202, "already running for go-demo-7.test")
    assert 360 <= len(arrivals) <= 440  # 80/s for 5 s, within 10 %, and not twice
    assert arrivals[-1] - arrivals[0] >= 4.5  # spread over the duration, not one burst
    assert seen_headers == {"insider"}


def test_a_plan_is_read_from_metadata_or_refused_naming_the_field() -> None:
    plan = plan_from_metadata(
        {"url": "http://demo.test/", "rps": "2.5", "duration": "1m", "headers": "A: 1\nB: x:y"}
    )
    assert (plan.urls, plan.rate, plan.duration, plan.method) == (
        ("http://demo.test/",),
        2.5,
        60.0,
        "GET",
    )
    assert plan.headers == {"A": "1", "B": "x:y"}
    with pytest.raises(ValueError, match=r"^metadata\.url must be an http\(s\) URL"):
        plan_from_metadata({"url": "demo.test", "rps": "1", "duration": "1m"})
    with pytest.raises(ValueError, match=r"^metadata\.duration is required"):
        plan_from_metadata({"url": "http://demo.test/", "rps": "1"})
    with pytest.raises(ValueError, match=r"^metadata\.headers: write one 'Name: value'"):
        plan_from_metadata(
            {"url": "http://demo.test/", "rps": "1", "duration": "1s", "headers": "oops"}
        )


@pytest.mark.slow
async def test_load_reaches_the_demo_service_at_the_requested_rate(
    loadtester: str, demo_url: str
) -> None:
    """Counted by the demo service itself, through its own /metrics."""
    metadata = {"type": "load", "url": f"{demo_url}/demo/hello", "rps": "60", "duration": "5s"}
    assert await post_json(f"{loadtester}/", {**CANARY, "metadata": metadata}) == (
        202,
        "started for go-demo-7.test",
    )
    await asyncio.sleep(6)
    async with aiohttp.ClientSession() as http, http.get(f"{demo_url}/metrics") as response:
        text = await response.text()
    served = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("path") == "/demo/hello"
    )
    assert 270 <= served <= 330  # 60/s for 5 s, within 10 %
