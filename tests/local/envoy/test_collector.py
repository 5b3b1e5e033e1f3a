"""The embedded metrics against a real Envoy: success rate, durations, no data, dead backend."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from coalmine.engine import MeasurementKind
from coalmine.local.envoy import (
    Cluster,
    ClusterWindow,
    DataPlane,
    Destination,
    Endpoint,
    EnvoyDataPlane,
    Listener,
    Retries,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from tests.local.envoy.backends import Backend
from tests.local.envoy.conftest import MakeBackend, gateway_url, settings, split
from tests.local.envoy.traffic import burst, statuses

pytestmark = pytest.mark.slow

WINDOW_S = 30.0


async def _settled(
    plane: EnvoyDataPlane, cluster: str, requests: int, durations: int | None = None
) -> ClusterWindow:
    """The window once it holds `requests` answers and `durations` timings (Envoy adds
    timings at each stats flush, a little after the counters)."""
    deadline = time.monotonic() + 10
    while True:
        window = plane.metrics.window(cluster, WINDOW_S)
        timed = window.durations.count
        if window.requests.value == requests and timed == (
            requests if durations is None else durations
        ):
            return window
        assert time.monotonic() < deadline, f"window never settled: {window}"
        await asyncio.sleep(0.05)


async def test_every_fifth_request_failing_reads_as_80_percent_success(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    flaky = await make_backend("flaky", fail_every=5)
    await dataplane.apply(split({flaky: 100}))

    answers = await burst(http, gateway_url(dataplane), 500)
    window = await _settled(dataplane, "test_flaky", 500)

    assert statuses(answers) == {200: 400, 500: 100}
    assert window.errors_5xx.value == 100
    assert window.success_rate.value is not None
    assert abs(window.success_rate.value - 80) <= 1
    assert window.request_rate.value is not None
    assert window.request_rate.value > 0


async def test_known_delay_bounds_the_average(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    slow = await make_backend("slow", delay_ms=100)
    await dataplane.apply(split({slow: 100}))

    answers = await burst(http, gateway_url(dataplane), 60, concurrency=20)
    window = await _settled(dataplane, "test_slow", 60)

    # Each answer takes at least the backend's 100 ms sleep, and Envoy's upstream time is
    # part of what the client saw: the average lies between the two. On an idle machine the
    # client's average is within a few ms of 100; on a loaded one both grow together.
    client_average_ms = 1000 * sum(answer.elapsed for answer in answers) / len(answers)
    assert window.average_ms.value is not None
    assert 99 <= window.average_ms.value <= client_average_ms, (
        window.average_ms,
        client_average_ms,
    )


async def test_slow_share_shows_in_p99_and_max(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """One request in ten sleeps 600 ms, the rest answer at once: the median stays low,
    p99 and max land at or above the 600 ms request's bucket (500, 750], and no higher than
    the bucket of the slowest answer the client saw (Envoy's upstream time is part of the
    client's time; on a loaded machine both can exceed 750 ms, so the client is the bound)."""
    mixed = await make_backend("mixed", slow_every=10, slow_ms=600)
    await dataplane.apply(split({mixed: 100}))

    answers = await burst(http, gateway_url(dataplane), 200, concurrency=20)
    window = await _settled(dataplane, "test_mixed", 200)

    median, p99, highest = window.quantile_ms(0.5).value, window.p99_ms.value, window.max_ms.value
    slowest_seen_ms = max(answer.elapsed for answer in answers) * 1000
    ceiling = min(
        (bound for bound in window.durations.bounds if bound >= slowest_seen_ms),
        default=float("inf"),
    )
    assert median is not None
    assert median < 50
    assert p99 is not None
    assert highest is not None
    assert 500 <= p99 <= highest, window.durations
    assert 750 <= highest <= ceiling, (window.durations, slowest_seen_ms)


async def test_idle_cluster_is_no_data_not_a_pass(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend
) -> None:
    idle = await make_backend("idle")
    await dataplane.apply(split({idle: 100}))
    await dataplane.metrics.scrape()
    await dataplane.metrics.scrape()

    window = dataplane.metrics.window("test_idle", WINDOW_S)

    assert window.requests.value == 0
    for measurement in (window.success_rate, window.average_ms, window.p99_ms, window.max_ms):
        assert measurement.value is None
    assert window.success_rate.reason == "no requests for cluster 'test_idle' in the last 30s"
    unknown = dataplane.metrics.window("test_nothing", WINDOW_S)
    assert unknown.success_rate.reason == "Envoy has no cluster named 'test_nothing'"


async def test_dead_backend_counts_as_errors(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Nothing listens on the dead cluster's port: Envoy answers 503 itself, and those
    count as 5xx although `upstream_rq_total` stays 0."""
    alive = await make_backend("alive")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = Cluster("test_dead", (Endpoint("127.0.0.1", dead_port),))
    to_dead = RouteMatch(StringMatch.prefix("/dead"))
    routes = (
        Route("dead", (Destination("test_dead", 100),), matches=(to_dead,)),
        Route("alive", (Destination("test_alive", 100),)),
    )
    listener = Listener(port=0, virtual_hosts=(VirtualHost("any", ("*",), routes),))
    alive_cluster = split({alive: 100}).clusters[0]
    await dataplane.apply(DataPlane(listeners=(listener,), clusters=(alive_cluster, dead)))

    answers = await burst(http, gateway_url(dataplane, "/dead"), 40)
    window = await _settled(dataplane, "test_dead", 40, durations=0)

    assert statuses(answers) == {503: 40}
    assert window.errors_5xx.value == 40
    assert window.success_rate.value == 0
    assert window.average_ms.value is None


async def test_retried_requests_count_once_with_their_final_answer(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Every request fails once and succeeds on retry: clients see only successes, and
    so does the success rate (it is what clients got, not what the backend did)."""
    flaky = await make_backend("flaky")
    route = Route("all", (Destination("test_flaky", 100),), retries=Retries(2, retry_on="5xx"))
    listener = Listener(port=0, virtual_hosts=(VirtualHost("any", ("*",), (route,)),))
    await dataplane.apply(DataPlane(listeners=(listener,), clusters=split({flaky: 100}).clusters))

    answers = await burst(http, gateway_url(dataplane, "/fail-first-attempt"), 20)
    window = await _settled(dataplane, "test_flaky", 20, durations=20)

    assert statuses(answers) == {200: 20}
    assert flaky.hits == 40
    assert window.success_rate.value == 100.0


async def test_what_a_cluster_served_adds_up_across_its_replacement(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """Envoy's per-class counters of a cluster start from zero when the cluster is replaced
    (here: its endpoints change); the collector's sums do not lose what came before."""
    first = await make_backend("first", fail_every=5)
    second = await make_backend("second", fail_every=2)
    await dataplane.apply(split({first: 100}))
    before = dataplane.metrics.served("test_first")

    await burst(http, gateway_url(dataplane), 100)
    moved = (Endpoint("127.0.0.1", second.port),)
    await dataplane.apply(replace(split({first: 100}), clusters=(Cluster("test_first", moved),)))
    await burst(http, gateway_url(dataplane), 40)

    deadline = time.monotonic() + 10
    while dataplane.metrics.served("test_first") != (before[0] + 140, before[1] + 40):
        assert time.monotonic() < deadline, dataplane.metrics.served("test_first")
        await asyncio.sleep(0.05)


async def test_a_check_right_after_the_collector_started_waits_for_data(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """A real Envoy reports its uptime with each sample (restarts are resets), and a check's
    window that reaches back before the collector's first sample waits for data."""
    steady = await make_backend("steady")
    await dataplane.apply(split({steady: 100}))
    await burst(http, gateway_url(dataplane), 20)
    sample = await dataplane.metrics.scrape()
    assert sample is not None
    assert sample.uptime is not None
    assert sample.uptime >= 0

    check = dataplane.metrics.window("test_steady", WINDOW_S, wait_for_data=True)
    assert check.success_rate.kind == MeasurementKind.WAITING
    assert check.success_rate.reason.startswith(f"waiting for {WINDOW_S:g}s of data since ")
    window = await _settled(dataplane, "test_steady", 20)
    assert window.success_rate.value == 100.0


def canary_on(backend: Backend) -> DataPlane:
    """All traffic to cluster `test_canary`, whose one endpoint is `backend` (a revision)."""
    route = Route("main", (Destination("test_canary", 100),))
    return DataPlane(
        listeners=(Listener(port=0, virtual_hosts=(VirtualHost("any", ("*",), (route,)),)),),
        clusters=(Cluster("test_canary", (Endpoint("127.0.0.1", backend.port),)),),
    )


async def test_a_checks_window_begins_after_the_earlier_revisions_replicas_drained(
    tmp_path: Path, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """The slow revision's answers in flight when the cluster moved to the fast one are
    counted by Envoy in the same cluster when they finish: a check waits until they are
    in the stats, and its window then begins after them."""
    fences: dict[str, float] = {}
    plane = EnvoyDataPlane(settings(tmp_path), stats_interval_s=0.2, drained=fences.get)
    await plane.start()
    try:
        slow = await make_backend("slow", delay_ms=800)
        fast = await make_backend("fast")
        await plane.apply(canary_on(slow))
        in_flight = asyncio.create_task(burst(http, gateway_url(plane), 8, concurrency=8))
        await asyncio.sleep(0.2)
        await plane.apply(canary_on(fast))  # the next revision: the slow one drains
        moved = time.monotonic()
        fences["test_canary"] = math.inf
        await burst(http, gateway_url(plane), 20, concurrency=2)  # served by the fast one

        check = plane.metrics.window("test_canary", 1.0, wait_for_data=True)
        assert check.p99_ms.kind == MeasurementKind.WAITING
        assert check.p99_ms.reason.endswith(
            "(the replicas of an earlier revision behind cluster test_canary were still"
            " serving requests then)"
        )
        assert statuses(await in_flight) == {200: 8}
        fences["test_canary"] = time.monotonic()  # what the process layer reports

        deadline = time.monotonic() + 10
        while (
            check := plane.metrics.window("test_canary", 1.0, wait_for_data=True)
        ).p99_ms.kind == MeasurementKind.WAITING:
            assert time.monotonic() < deadline, check
            await burst(http, gateway_url(plane), 4, concurrency=2)
            await asyncio.sleep(0.05)
        raw = plane.metrics.window("test_canary", time.monotonic() - moved)
    finally:
        await plane.stop()
    assert (raw.max_ms.value or 0) >= 800, raw  # counted in the cluster after it moved
    assert check.p99_ms.value is not None and check.p99_ms.value < 800, check
