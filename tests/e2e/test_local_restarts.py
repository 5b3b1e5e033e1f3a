"""Restarting `coalmine up` is invisible to clients: kill -9, --keep-running, a fresh start,
a bounded stop, and replicas that leave the routes before they stop. Real `coalmine up`
processes, real Envoy, real replicas."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from coalmine.api.canary import Phase
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.load.result import LoadResult
from coalmine.local.processes import procfs
from coalmine.local.runtime import LocalRuntime
from coalmine.metrics.prometheus_server import free_port
from coalmine.testing.up import UpProcess, recorded_children
from tests.e2e.test_local_mode import initialized, ship
from tests.fixtures.local import (
    HOST,
    NAMESPACE,
    demo_manifests,
    runtime_settings,
    wait_for_phase,
    wait_until,
)

pytestmark = pytest.mark.slow


@asynccontextmanager
async def load_on(url: str, rate: float) -> AsyncIterator[list[LoadResult]]:
    """Open-loop load on `url` while the block runs; the result lands in the list."""
    plan = LoadPlan(urls=(url,), rate=rate, duration=600, headers=HOST, timeout=5)
    load = LoadGenerator(plan)
    running = asyncio.create_task(load.run())
    outcome: list[LoadResult] = []
    try:
        yield outcome
    finally:
        load.stop()
        outcome.append(await running)


ROUTE = """
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  hosts: [go-demo-7.example]
  gateways: [go-demo-7]
  http:
    - route:
        - {destination: {host: go-demo-7}}
"""


def served(version: str, replicas: int = 2) -> str:
    """go-demo-7 behind a plain route, no canary."""
    return demo_manifests(version, canary=False, replicas=replicas) + ROUTE


def failures(result: LoadResult) -> dict[str, int]:
    bad = {str(code): n for code, n in result.statuses.items() if code != 200}
    return {**bad, **result.errors}


async def canary_phase(up: UpProcess) -> str:
    found = await asyncio.to_thread(up.client().get, "Canary", NAMESPACE, "go-demo-7")
    return str((found.get("status") or {}).get("phase", ""))


async def until_phase(up: UpProcess, phase: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while await canary_phase(up) != phase:
        assert time.monotonic() < deadline, f"no {phase} within {within}s:\n{up.log_tail()}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def up(tmp_path: Path) -> AsyncIterator[UpProcess]:
    process = UpProcess(tmp_path / "state", gateway_port=free_port())
    try:
        yield process
    finally:
        children = recorded_children(process.state_dir)
        if process.process is not None and process.process.returncode is None:
            await process.stop()
        if any(procfs.is_running(pid) for pid in children.values()):
            # killed or --keep-running: one more up adopts what is left and stops it
            process.args = tuple(a for a in process.args if a != "--keep-running")
            await process.start()
            await process.stop()
        assert [p for p in children.values() if procfs.is_running(p)] == []


async def test_kill_9_of_up_fails_no_request_and_the_next_up_adopts_everything(
    up: UpProcess,
) -> None:
    await up.start()
    await asyncio.to_thread(up.client().apply, demo_manifests("0.0.1"), "test")
    await until_phase(up, "Initialized")
    before = recorded_children(up.state_dir)
    async with load_on(up.gateway_url + "/version", rate=20) as result:
        await asyncio.sleep(1)
        await up.kill()
        await asyncio.sleep(1)  # nobody supervises the data plane now; it serves
        await up.start()  # a second after kill -9: the lock must not refuse it
        await asyncio.sleep(2)
    [load] = result
    assert load.sent >= 60
    assert failures(load) == {}, up.log_tail()
    after = recorded_children(up.state_dir)  # the same Envoy and replicas, none new
    assert after.items() <= before.items() and "envoy" in after and len(after) >= 3, before
    assert "adopted the running Envoy" in up.log_tail()


async def test_a_restart_right_after_kill_9_is_not_refused_and_a_second_up_is(
    up: UpProcess, tmp_path: Path
) -> None:
    await up.start()
    await up.kill()  # reaped at once here; a zombie holds no flock either
    await up.start()
    second = UpProcess(up.state_dir, gateway_port=free_port())
    with pytest.raises(Exception, match=r"a coalmine up \(pid \d+\) already runs"):
        await second.start(within=30)


async def test_keep_running_leaves_the_data_plane_serving_for_the_next_up(
    up: UpProcess,
) -> None:
    up.args = (*up.args, "--keep-running")
    await up.start()
    await asyncio.to_thread(up.client().apply, served("0.0.1"), "test")
    await wait_served(up.gateway_url)
    before = recorded_children(up.state_dir)
    async with load_on(up.gateway_url + "/version", rate=20) as result:
        assert await up.stop(signal.SIGINT) == 0
        assert all(procfs.is_running(pid) for pid in before.values())
        await asyncio.sleep(1)
        await up.start()
        await asyncio.sleep(1)
    assert failures(result[0]) == {}
    assert recorded_children(up.state_dir) == before


async def test_a_fresh_start_never_answers_before_its_routes_are_loaded(
    up: UpProcess,
) -> None:
    """After a full stop nothing can be adopted: Envoy starts afresh and must not answer
    404 (no route yet) or 503 (no endpoint yet) while coalmine restores the routes."""
    await up.start()
    await asyncio.to_thread(up.client().apply, served("0.0.1"), "test")
    await wait_served(up.gateway_url)
    assert await up.stop() == 0
    seen: Counter[str] = Counter()
    done = asyncio.Event()

    async def probe() -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not done.is_set():
                try:
                    async with http.get(up.gateway_url + "/version", headers=HOST) as answer:
                        seen[str(answer.status)] += 1
                except aiohttp.ClientError:
                    seen["refused"] += 1
                    await asyncio.sleep(0.005)

    probing = asyncio.create_task(probe())
    await up.start()
    await wait_until(lambda: seen["200"] >= 50, "50 answers after the start", within=30)
    done.set()
    await probing
    assert set(seen) <= {"refused", "200"}, seen


async def test_sigterm_of_up_with_prometheus_ends_every_child_in_bounded_time(
    up: UpProcess,
) -> None:
    up.args = (*up.args, "--prometheus")
    await up.start()
    await asyncio.to_thread(up.client().apply, demo_manifests("0.0.1"), "test")
    await until_phase(up, "Initialized")
    children = recorded_children(up.state_dir)
    assert {"envoy", "prometheus"} <= children.keys() and len(children) >= 4
    assert await up.stop(signal.SIGTERM, within=45) == 0
    assert [name for name, pid in children.items() if procfs.is_running(pid)] == []


async def wait_served(gateway: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            try:
                async with http.get(gateway + "/version", headers=HOST) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "the gateway never answered 200"
            await asyncio.sleep(0.1)


async def test_scale_down_rolling_update_and_rollback_fail_no_request(
    local_runtime: LocalRuntime,
) -> None:
    """Replicas leave the routes before they stop: at 200 req/s, scaling 3 -> 1, a rolling
    update and a rolled-back release fail no request."""
    runtime = local_runtime
    await runtime.apply(served("0.0.1", replicas=3), "test")
    await wait_served(runtime.gateway_url)

    def settled(replicas: int) -> bool:
        state = runtime.processes.workload_state(NAMESPACE, "go-demo-7")
        return state is not None and state.available == replicas and state.updated == replicas

    async with load_on(runtime.gateway_url + "/version", rate=200) as result:
        await runtime.apply(served("0.0.1", replicas=1), "test")
        await wait_until(lambda: len(runtime.processes.running_pids()) == 1, "1 replica left")
        await runtime.apply(served("0.0.2", replicas=2), "test")
        await wait_until(lambda: settled(2), "the rolling update", within=60)
        await wait_until(lambda: len(runtime.processes.running_pids()) == 2, "old ones gone")
    assert failures(result[0]) == {}
    assert result[0].sent > 100  # traffic ran through the changes (how many is the machine's)


async def test_a_rolled_back_release_fails_no_client_request(tmp_path: Path) -> None:
    """The failing canary's own 500s are its answers; what must not happen is a request
    lost to a replica stopping or a route moving (connection errors, 503)."""
    runtime = LocalRuntime(runtime_settings(tmp_path / "state"))
    await runtime.start()
    try:
        await initialized(runtime)
        async with load_on(runtime.gateway_url + "/demo/random-error", rate=100) as result:
            await ship(runtime, "0.0.2", env={"DEMO_ERROR_RATE": "1.0"})
            await wait_for_phase(runtime, Phase.FAILED, within=90)
            await asyncio.sleep(2)  # the canary scaled to zero meanwhile
        statuses = result[0].statuses
        assert result[0].errors == {}
        assert set(statuses) <= {200, 500}, statuses
    finally:
        await runtime.stop()


async def test_a_stop_that_overruns_its_time_kills_every_child(tmp_path: Path) -> None:
    """The last resort of a bounded stop: whatever the stop was waiting for, SIGKILL."""
    settings = dataclasses.replace(runtime_settings(tmp_path / "state"), stop_timeout_seconds=0.001)
    runtime = LocalRuntime(settings)
    await runtime.start()
    await runtime.apply(served("0.0.1", replicas=2), "test")
    await wait_served(runtime.gateway_url)
    children = recorded_children(settings.state_dir)
    assert "envoy" in children and len(children) == 3
    await runtime.stop()  # far too short to stop anything gracefully
    await wait_until(
        lambda: not any(procfs.is_running(pid) for pid in children.values()),
        "every child killed",
        within=10,
    )
