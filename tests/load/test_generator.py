"""The load generator against a real local HTTP server that records what arrives."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from coalmine.load import LoadGenerator, LoadPlan, RequestOutcome, generate_load
from tests.load.conftest import RecordingServer

DEADLINE = 20.0


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.01)


def plan(*urls: str, **fields: object) -> LoadPlan:
    return LoadPlan(urls=urls, **{"rate": 100.0, "duration": 0.2, **fields})  # type: ignore[arg-type]


@pytest.mark.slow
async def test_it_offers_the_requested_rate(server: RecordingServer) -> None:
    result = await generate_load(plan(f"{server.url}/status/200", rate=200, duration=4))
    arrivals = server.arrivals
    assert len(arrivals) == result.sent == 800
    seen_rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert 180 <= seen_rate <= 220  # within 10 % of 200/s, measured where the requests land
    assert result.statuses == {200: 800}
    assert 180 <= result.rate <= 220


async def test_a_slow_server_does_not_lower_the_offered_rate(server: RecordingServer) -> None:
    """Open loop: 50 requests leave within the second although each answer takes 300 ms."""
    result = await generate_load(plan(f"{server.url}/slow/300", rate=50, duration=1))
    assert result.sent == len(server.arrivals) == 50
    assert result.statuses == {200: 50}
    assert server.most_in_flight > 1  # a closed loop would have one out at a time
    assert result.latency is not None
    assert result.latency.p50 >= 0.3


async def test_it_stops_at_the_duration(server: RecordingServer) -> None:
    result = await generate_load(plan(f"{server.url}/status/204", rate=100, duration=0.5))
    assert result.sent == 50
    assert result.sending_seconds >= 0.5
    assert not result.stopped_early
    await asyncio.sleep(0.3)
    assert len(server.arrivals) == 50  # nothing more arrives after run() returned


async def test_statuses_are_counted_exactly_and_urls_taken_in_turn(
    server: RecordingServer,
) -> None:
    urls = [f"{server.url}/status/{code}" for code in (200, 500, 404)]
    result = await generate_load(plan(*urls, rate=150, duration=0.2))
    assert result.statuses == {200: 10, 500: 10, 404: 10}
    assert result.errors == {}
    assert result.answered == result.sent == 30
    assert len(result.latencies) == 30
    assert result.status_classes() == {"2xx": 10, "4xx": 10, "5xx": 10}


async def test_method_headers_and_body_are_sent(server: RecordingServer) -> None:
    await generate_load(
        plan(
            f"{server.url}/echo",
            rate=20,
            duration=0.05,
            method="POST",
            headers={"release": "canary"},
            body=b"payload",
        )
    )
    [(method, headers, body)] = server.echoed
    assert (method, headers["release"], body) == ("POST", "canary", b"payload")


async def test_a_slow_answer_is_a_timeout_error(server: RecordingServer) -> None:
    result = await generate_load(
        plan(f"{server.url}/slow/1000", rate=20, duration=0.25, timeout=0.2)
    )
    assert result.errors == {"timeout": 5}
    assert result.statuses == {}
    assert result.latency is None


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A port bound by us and not listening: connecting to it is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}/demo/hello"


async def test_a_refused_connection_is_its_own_error(refusing_url: str) -> None:
    result = await generate_load(plan(refusing_url, rate=50, duration=0.1))
    assert result.errors == {"connection_refused": 5}
    assert result.answered == 0


async def test_the_in_flight_cap_holds_and_drops_are_counted(server: RecordingServer) -> None:
    generator = LoadGenerator(plan(f"{server.url}/hold", rate=100, duration=0.2, max_in_flight=3))
    running = asyncio.create_task(generator.run())
    await until(lambda: generator.snapshot(latencies=False).dropped == 17, "the schedule's end")
    server.release.set()
    result = await asyncio.wait_for(running, DEADLINE)
    assert (result.sent, result.dropped) == (3, 17)
    assert result.statuses == {200: 3}
    assert server.most_in_flight == 3


async def test_stop_returns_the_partial_result(server: RecordingServer) -> None:
    generator = LoadGenerator(plan(f"{server.url}/status/200", rate=50, duration=60))
    running = asyncio.create_task(generator.run())
    await until(lambda: len(server.arrivals) >= 10, "ten requests")
    generator.stop()
    result = await asyncio.wait_for(running, DEADLINE)
    assert result.stopped_early
    assert result.sent >= 10
    assert result.sent == result.answered + result.failed + result.abandoned
    assert result.sending_seconds < 60


async def test_stop_abandons_requests_still_out(server: RecordingServer) -> None:
    generator = LoadGenerator(plan(f"{server.url}/hold", rate=20, duration=0.2))
    running = asyncio.create_task(generator.run())
    await until(lambda: len(server.arrivals) == 4, "four held requests")
    generator.stop()
    result = await asyncio.wait_for(running, DEADLINE)
    assert (result.sent, result.abandoned, result.answered, result.in_flight) == (4, 4, 0, 0)


async def test_cancelling_the_run_keeps_the_partial_result(server: RecordingServer) -> None:
    generator = LoadGenerator(plan(f"{server.url}/hold", rate=50, duration=60))
    running = asyncio.create_task(generator.run())
    await until(lambda: len(server.arrivals) >= 5, "five held requests")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, DEADLINE)
    partial = generator.snapshot()
    assert partial.sent >= 5
    assert partial.abandoned == partial.sent  # every request was still held
    assert partial.in_flight == 0
    assert generator.in_flight == 0


async def test_a_generator_runs_once(server: RecordingServer) -> None:
    generator = LoadGenerator(plan(f"{server.url}/status/200", rate=10, duration=0.1))
    await generator.run()
    with pytest.raises(Exception, match="has run already"):
        await generator.run()


async def test_each_ended_request_is_told_with_its_times_status_and_body(
    server: RecordingServer, refusing_url: str
) -> None:
    outcomes: list[RequestOutcome] = []
    before = time.monotonic()
    urls = (f"{server.url}/slow/1", f"{server.url}/status/503", refusing_url)
    result = await generate_load(plan(*urls, rate=60, duration=0.1), on_outcome=outcomes.append)
    assert result.sent == len(outcomes) == 6
    by_status = sorted((o.status or 0, o.error or "") for o in outcomes)
    assert by_status == [(0, "connection_refused")] * 2 + [(200, "")] * 2 + [(503, "")] * 2
    assert [o.failed for o in outcomes if o.status == 200] == [False, False]
    assert all(o.failed for o in outcomes if o.status != 200)
    assert all(before <= o.sent <= o.ended <= time.monotonic() for o in outcomes)
    assert {o.body for o in outcomes if o.status == 200} == {b"slow"}
    assert {o.body for o in outcomes if o.status != 200} == {b""}
