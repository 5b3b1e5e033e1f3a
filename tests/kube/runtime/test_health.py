"""The probes, served from their own thread: a stuck event loop fails /healthz."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from coalmine.kube.runtime.health import Health, HealthServer
from coalmine.kube.runtime.settings import Address, HealthSettings


def probe(port: int, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().strip()


@pytest.fixture
def health() -> Iterator[tuple[Health, int]]:
    state = Health(HealthSettings(heartbeat=0.05, stall_after=0.5))
    server = HealthServer(state, Address("127.0.0.1", 0))
    server.start()
    yield state, server.port
    server.stop()


async def test_ready_only_once_started(health: tuple[Health, int]) -> None:
    state, port = health
    beating = asyncio.create_task(state.run())

    before = await asyncio.to_thread(probe, port, "/readyz")
    state.ready = True
    after = await asyncio.to_thread(probe, port, "/readyz")

    assert before == (503, "starting")
    assert after == (200, "ok")
    assert await asyncio.to_thread(probe, port, "/healthz") == (200, "ok")
    assert (await asyncio.to_thread(probe, port, "/metrics"))[0] == 404
    beating.cancel()


async def test_a_stuck_event_loop_fails_liveness(health: tuple[Health, int]) -> None:
    state, port = health
    beating = asyncio.create_task(state.run())
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()

    def probe_later() -> tuple[int, str]:
        time.sleep(1.0)  # the loop is blocked meanwhile
        return probe(port, "/healthz")

    answer = loop.run_in_executor(None, probe_later)
    time.sleep(2.0)  # noqa: ASYNC251 - on purpose: a handler that blocks the loop
    stuck = await answer
    await asyncio.sleep(0.2)  # the loop runs again, the heartbeat resumes

    assert stuck[0] == 503 and "event loop has not run for" in stuck[1]
    assert await asyncio.to_thread(probe, port, "/healthz") == (200, "ok")
    beating.cancel()


async def test_an_ended_operator_fails_liveness(health: tuple[Health, int]) -> None:
    state, port = health
    state.failure = "the operator ended with an error: boom"

    assert await asyncio.to_thread(probe, port, "/healthz") == (
        503,
        "the operator ended with an error: boom",
    )
