"""The demo app's endpoints, against the real app listening on a free port."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from coalmine.demo import DemoSettings
from tests.fixtures.demo import running_demo

SEED = 20240607
TIMEOUT = aiohttp.ClientTimeout(total=30)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, str]:
    async with http.get(url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.text()


async def timed_get(http: aiohttp.ClientSession, url: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = await get(http, url)
    return status, time.monotonic() - started


async def test_hello_names_the_version(demo_url: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{demo_url}/demo/hello") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.text() == "hello, world! version 0.0.1\n"


async def test_hello_sleeps_for_the_requested_delay(
    demo_url: str, http: aiohttp.ClientSession
) -> None:
    status, took = await timed_get(http, f"{demo_url}/demo/hello?delay=250")
    assert status == 200
    assert took >= 0.25


@pytest.mark.parametrize("delay", ["abc", "-5", "1.5", "60001", ""])
async def test_a_bad_delay_is_a_400_naming_the_parameter(
    demo_url: str, http: aiohttp.ClientSession, delay: str
) -> None:
    status, text = await get(http, f"{demo_url}/demo/hello?delay={delay}")
    assert status == 400
    assert text.startswith("delay: must be a whole number of milliseconds from 0 to 60000")


async def test_a_release_can_be_slow_by_itself(http: aiohttp.ClientSession) -> None:
    async with running_demo(DemoSettings(delay_ms=200)) as url:
        status, took = await timed_get(http, f"{url}/demo/hello?delay=100")
    assert status == 200
    assert took >= 0.3  # the release's own delay adds to the requested one


async def test_random_delays_follow_the_seeded_dice(http: aiohttp.ClientSession) -> None:
    expected = random.Random(SEED).randint(0, 400) / 1000
    async with running_demo(DemoSettings(random_delay_max_ms=400), random.Random(SEED)) as url:
        status, took = await timed_get(http, f"{url}/demo/hello")
    assert status == 200
    assert took >= expected


async def test_the_health_probe_ignores_every_delay(http: aiohttp.ClientSession) -> None:
    """Probes of a slow release must not time out: 60 s + 60 s of delay would, here 30 s."""
    settings = DemoSettings(version="0.0.3", delay_ms=60_000, random_delay_max_ms=60_000)
    async with running_demo(settings) as url:
        status, text = await get(http, f"{url}/demo/hello?health=true&delay=60000")
    assert (status, text) == (200, "hello, world! version 0.0.3\n")


async def test_random_error_fails_one_request_in_five(http: aiohttp.ClientSession) -> None:
    dice = random.Random(SEED)
    expected_failures = sum(dice.random() < 0.2 for _ in range(2000))
    async with running_demo(DemoSettings(version="0.0.2"), random.Random(SEED)) as url:
        replies = await asyncio.gather(
            *(get(http, f"{url}/demo/random-error") for _ in range(2000))
        )
    failures = [text for status, text in replies if status == 500]
    successes = [text for status, text in replies if status == 200]
    assert len(failures) == expected_failures
    assert len(failures) + len(successes) == 2000
    assert 0.17 < len(failures) / 2000 < 0.23
    assert set(failures) == {"ERROR: Something, somewhere, went wrong! version 0.0.2\n"}
    assert set(successes) == {"Everything is still OK, version 0.0.2\n"}


@pytest.mark.parametrize(("rate", "expected"), [(0.0, {200}), (1.0, {500})])
async def test_the_error_rate_can_be_set(
    http: aiohttp.ClientSession, rate: float, expected: set[int]
) -> None:
    async with running_demo(DemoSettings(error_rate=rate)) as url:
        replies = [await get(http, f"{url}/demo/random-error") for _ in range(50)]
    assert {status for status, _ in replies} == expected


@pytest.mark.parametrize("path", ["/version", "/"])
async def test_version_shows_the_release_header(
    demo_url: str, http: aiohttp.ClientSession, path: str
) -> None:
    assert await get(http, demo_url + path) == (200, "Version: 0.0.1; Release: unknown\n")
    with_header = await get(http, demo_url + path, headers={"release": "canary"})
    assert with_header == (200, "Version: 0.0.1; Release: canary\n")


async def test_an_unknown_path_is_a_404(demo_url: str, http: aiohttp.ClientSession) -> None:
    status, _ = await get(http, f"{demo_url}/nothing/here")
    assert status == 404


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_metrics_count_the_requests_made(http: aiohttp.ClientSession) -> None:
    async with running_demo(DemoSettings(version="0.0.2", error_rate=1.0)) as url:
        for path in ["/demo/hello"] * 3 + ["/demo/hello?delay=x", "/", "/version", "/nope"]:
            await get(http, url + path)
        await get(http, f"{url}/demo/hello?delay=120")
        await get(http, f"{url}/demo/random-error")
        await get(http, f"{url}/metrics")  # scrapes are not counted
        status, text = await get(http, f"{url}/metrics")
    assert status == 200
    found = samples(text)

    def requests(path: str, code: str) -> float:
        return found[key("http_requests_total", method="GET", path=path, code=code)]

    assert requests("/demo/hello", "200") == 4
    assert requests("/demo/hello", "400") == 1
    assert requests("/demo/random-error", "500") == 1
    assert requests("/", "200") == 1
    assert requests("/version", "200") == 1
    assert requests("other", "404") == 1
    assert not [k for k in found if ("path", "/metrics") in k[1]]
    hello = {"method": "GET", "path": "/demo/hello", "code": "200"}
    assert found[key("http_request_duration_seconds_count", **hello)] == 4
    assert found[key("http_request_duration_seconds_sum", **hello)] >= 0.12
    assert found[key("http_request_duration_seconds_bucket", le="0.1", **hello)] == 3
    assert found[key("http_request_duration_seconds_bucket", le="+Inf", **hello)] == 4
    assert found[key("http_requests_in_flight")] == 0
    assert found[key("demo_build_info", version="0.0.2")] == 1


async def test_each_app_has_its_own_metrics(http: aiohttp.ClientSession) -> None:
    async with running_demo(DemoSettings()) as busy, running_demo(DemoSettings()) as idle:
        await get(http, f"{busy}/demo/hello")
        _, busy_text = await get(http, f"{busy}/metrics")
        _, idle_text = await get(http, f"{idle}/metrics")
    counted = key("http_requests_total", method="GET", path="/demo/hello", code="200")
    assert samples(busy_text)[counted] == 1
    assert counted not in samples(idle_text)


async def test_metrics_speak_openmetrics_when_asked(
    demo_url: str, http: aiohttp.ClientSession
) -> None:
    accept = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
    async with http.get(f"{demo_url}/metrics", headers=accept) as response:
        assert response.content_type == "application/openmetrics-text"
        assert (await response.text()).endswith("# EOF\n")
