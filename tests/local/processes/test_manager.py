"""LocalDeployments with real processes: ports, readiness, endpoints, rollouts, scaling."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from coalmine.errors import ManifestError, NotFound
from coalmine.local.processes import LocalDeployments, ReplicaPhase, procfs
from tests.local.processes.conftest import (
    FAST,
    deployment,
    eventually,
    marked_processes,
    wait_gone,
)


async def get(port: int, path: str = "/") -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as reply,
    ):
        return reply.status, await reply.text()


def running_pids(runtime: LocalDeployments, name: str = "web") -> list[int]:
    details = runtime.status("default", name).replica_details
    return [r.pid for r in details if r.pid is not None]


def ready_count(runtime: LocalDeployments, name: str = "web") -> int:
    return len(runtime.endpoints("default", {"app": name}))


async def test_replicas_run_on_distinct_ports_given_as_PORT(runtime: LocalDeployments) -> None:
    await runtime.apply(deployment(replicas=2, version="1.0"))
    await eventually(lambda: ready_count(runtime) == 2, "2 ready replicas")

    endpoints = runtime.endpoints("default", {"app": "web"})
    ports = [e.host_port(8080) for e in endpoints]
    assert len(set(ports)) == 2 and all(e.host_port("http") for e in endpoints)
    for endpoint in endpoints:
        port = endpoint.host_port(8080)
        assert port is not None
        status, text = await get(port)
        assert status == 200 and text.startswith("version 1.0")
    status = runtime.status("default", "web")
    assert (status.replicas, status.updated, status.ready, status.available) == (2, 2, 2, 2)
    assert sorted(r.port for r in status.replica_details) == sorted(ports)
    assert len({r.pid for r in status.replica_details}) == 2
    state = status.to_workload_state()
    assert state.revision == status.revision and state.available == 2 and state.settled
    assert state.unavailable_since is None and not state.deadline_exceeded

    for replica in status.replica_details:
        log = runtime.state_dir / "logs" / "default" / "web" / f"{replica.id}.log"
        text = log.read_text()
        assert f"coalmine: started pid {replica.pid}" in text
        assert f"listening on {replica.port}" in text
        assert "GET /healthz" in text  # the workload's stderr, where it logs requests


async def test_without_a_probe_a_replica_is_ready_when_its_port_accepts(
    runtime: LocalDeployments, tmp_path: Path
) -> None:
    gate = tmp_path / "listen-now"
    await runtime.apply(deployment(env={"LISTEN_WHEN": str(gate)}, readiness={}))
    await eventually(lambda: running_pids(runtime) != [], "a running process")
    await asyncio.sleep(0.3)
    assert ready_count(runtime) == 0  # running, not listening yet
    gate.touch()
    await eventually(lambda: ready_count(runtime) == 1, "ready once listening")


async def test_a_replica_without_ports_is_ready_at_once(runtime: LocalDeployments) -> None:
    sleeper = ["sleep", "60"]
    await runtime.apply(deployment(command=sleeper, ports=[], readiness={}))
    await eventually(lambda: runtime.status("default", "web").available == 1, "available")
    [endpoint] = runtime.endpoints("default", {"app": "web"})
    assert endpoint.ports.host_ports == {}


async def test_endpoints_are_chosen_by_namespace_and_labels(runtime: LocalDeployments) -> None:
    await runtime.apply(deployment("a", labels={"app": "a", "tier": "web"}))
    await runtime.apply(deployment("b", labels={"app": "b", "tier": "web"}))
    await runtime.apply(deployment("c", namespace="other", labels={"app": "a", "tier": "web"}))
    await eventually(lambda: len(runtime.endpoints("default", {"tier": "web"})) == 2, "a and b")

    [a] = runtime.endpoints("default", {"app": "a"})
    assert (a.deployment, a.labels["tier"], a.revision) == (
        "a",
        "web",
        runtime.status("default", "a").revision,
    )
    assert a.labels["pod-template-hash"] == a.revision[:10]
    assert runtime.endpoints("default", {"app": "a", "tier": "db"}) == []
    assert runtime.endpoints("default", {}) == []  # like a Service without a selector
    await eventually(lambda: len(runtime.endpoints("other", {"app": "a"})) == 1, "c")


async def test_endpoint_changes_are_announced(runtime: LocalDeployments) -> None:
    version = runtime.endpoints_version
    assert await runtime.wait_endpoints_changed(after=version, max_wait=0.1) == version

    await runtime.apply(deployment())
    version = await runtime.wait_endpoints_changed(after=version, max_wait=10)
    assert ready_count(runtime) == 1

    await runtime.scale("default", "web", 0)
    await runtime.wait_endpoints_changed(after=version, max_wait=10)
    assert ready_count(runtime) == 0


async def test_a_new_template_rolls_out_one_replica_at_a_time(runtime: LocalDeployments) -> None:
    await runtime.apply(deployment(replicas=3, version="1"))
    await eventually(lambda: runtime.status("default", "web").complete, "version 1 complete")
    old_pids = {r.pid for r in runtime.status("default", "web").replica_details}

    samples: list[tuple[int, int]] = []

    async def sample() -> None:
        while True:
            samples.append((ready_count(runtime), runtime.status("default", "web").total))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        await runtime.apply(deployment(replicas=3, version="2"))
        assert not runtime.status("default", "web").complete
        await eventually(lambda: runtime.status("default", "web").complete, "rolled out", 30)
    finally:
        sampler.cancel()

    assert min(ready for ready, _ in samples) >= 1, "a Service behind it lost every endpoint"
    assert max(total for _, total in samples) <= 4, "more than one replica above the desired 3"
    current = runtime.status("default", "web").replica_details
    assert {r.pid for r in current if r.phase != ReplicaPhase.TERMINATING}.isdisjoint(old_pids)
    await wait_gone([pid for pid in old_pids if pid is not None])
    for endpoint in runtime.endpoints("default", {"app": "web"}):
        port = endpoint.host_port(8080)
        assert port is not None
        assert (await get(port))[1].startswith("version 2")


async def test_drained_says_when_replicas_of_earlier_revisions_last_stopped(
    runtime: LocalDeployments,
) -> None:
    web = {"app": "web"}
    await runtime.apply(deployment(replicas=1, version="1"))
    await eventually(lambda: ready_count(runtime) == 1, "version 1 ready")
    assert runtime.drained("default", web) is None

    await runtime.scale("default", "web", 0)  # its own revision stopping is no fence
    await eventually(lambda: not runtime.status("default", "web").replica_details, "none left")
    assert runtime.drained("default", web) is None
    stopped = time.monotonic()

    await runtime.apply(deployment(replicas=1, version="2"))  # version 1 is now earlier
    first = runtime.drained("default", web)
    assert first is not None and first <= stopped
    await eventually(lambda: ready_count(runtime) == 1, "version 2 ready")

    await runtime.apply(deployment(replicas=1, version="3"))
    assert runtime.drained("default", web) == math.inf  # version 2 still runs
    await eventually(lambda: runtime.status("default", "web").complete, "version 3 rolled out")
    await eventually(lambda: runtime.drained("default", web) != math.inf, "version 2 gone")
    last = runtime.drained("default", web)
    assert last is not None and first < last <= time.monotonic()
    assert runtime.drained("default", {"app": "other"}) is None
    assert runtime.drained("elsewhere", web) is None


async def test_scaling_changes_only_the_count(runtime: LocalDeployments) -> None:
    status = await runtime.apply(deployment(replicas=1))
    revision = status.revision
    await eventually(lambda: ready_count(runtime) == 1, "1 ready")
    [first] = runtime.status("default", "web").replica_details

    await runtime.scale("default", "web", 3)
    await eventually(lambda: ready_count(runtime) == 3, "3 ready")
    status = runtime.status("default", "web")
    assert status.revision == revision and first.id in {r.id for r in status.replica_details}

    pids = [r.pid for r in status.replica_details if r.pid is not None]
    await runtime.scale("default", "web", 1)
    await eventually(lambda: len(runtime.status("default", "web").replica_details) == 1, "1 left")
    assert ready_count(runtime) == 1

    await runtime.scale("default", "web", 0)
    await eventually(lambda: not runtime.status("default", "web").replica_details, "none left")
    await wait_gone(pids)
    assert marked_processes(runtime.marker_prefix) == []
    status = runtime.status("default", "web")
    assert (status.replicas, status.total, status.complete) == (0, 0, True)
    with pytest.raises(ManifestError, match=r"spec.replicas: must be 0 or more, not -1"):
        await runtime.scale("default", "web", -1)


async def test_a_rollout_that_never_gets_ready_exceeds_its_deadline(
    runtime: LocalDeployments,
) -> None:
    await runtime.apply(deployment(version="1", progressDeadlineSeconds=1))
    await eventually(lambda: runtime.status("default", "web").complete, "version 1 complete")

    stuck = deployment(version="2", env={"UNHEALTHY": "1"}, progressDeadlineSeconds=1)
    await runtime.apply(stuck)
    assert not runtime.status("default", "web").deadline_exceeded
    await eventually(lambda: runtime.status("default", "web").deadline_exceeded, "deadline", 10)

    state = runtime.status("default", "web").to_workload_state()
    assert (state.replicas, state.updated, state.available, state.total) == (1, 1, 0, 2)
    assert state.unavailable_since is None  # version 1 still serves: never below 1 available
    [serving] = runtime.endpoints("default", {"app": "web"})
    assert serving.revision != state.revision


async def test_a_new_deployment_reports_since_when_it_is_unavailable(
    runtime: LocalDeployments,
) -> None:
    status = await runtime.apply(deployment(env={"UNHEALTHY": "1"}))
    assert status.unavailable_since is not None
    assert status.to_workload_state().unavailable_since == status.unavailable_since


async def test_min_ready_seconds_delays_available(runtime: LocalDeployments) -> None:
    await runtime.apply(deployment(minReadySeconds=1))
    seen: set[tuple[bool, bool]] = set()

    def available() -> bool:
        [replica] = runtime.status("default", "web").replica_details
        seen.add((replica.ready, replica.available))
        return replica.available

    await eventually(available, "available after minReadySeconds")
    assert (True, False) in seen  # ready for a while before it counted as available


async def test_a_probe_on_an_undeclared_port_is_refused(runtime: LocalDeployments) -> None:
    bad = deployment(readiness={"httpGet": {"path": "/healthz", "port": 9090}})
    with pytest.raises(ManifestError) as error:
        await runtime.apply(bad)
    assert str(error.value) == (
        "deployment web: spec.template.spec.containers[0].readinessProbe.httpGet.port: 9090 is"
        " not one of the container's ports (8080 http); locally a probe can reach only a"
        " declared containerPort: add it to ports"
    )
    with pytest.raises(NotFound):
        runtime.status("default", "web")
    startup = deployment(startup={"httpGet": {"path": "/healthz", "port": 9090}})
    with pytest.raises(ManifestError, match=r"containers\[0\]\.startupProbe\.httpGet\.port: 9090"):
        await runtime.apply(startup)


async def test_delete_stops_every_process_of_the_deployment(runtime: LocalDeployments) -> None:
    await runtime.apply(deployment(replicas=2))
    await eventually(lambda: len(running_pids(runtime)) == 2, "2 processes")
    pids = running_pids(runtime)
    await runtime.delete("default", "web")
    assert not any(procfs.is_running(pid) for pid in pids)
    assert runtime.endpoints("default", {"app": "web"}) == []
    with pytest.raises(NotFound, match='deployment "web" not found in namespace "default"'):
        runtime.status("default", "web")


async def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    runtime = LocalDeployments(tmp_path / "state", settings=FAST)
    await runtime.start()
    child_file = tmp_path / "child.pid"
    await runtime.apply(deployment(env={"CHILD_PID_FILE": str(child_file)}))
    await eventually(lambda: ready_count(runtime) == 1, "ready")
    child, [leader] = int(child_file.read_text()), running_pids(runtime)
    prefix = runtime.marker_prefix
    await runtime.stop()
    assert not procfs.is_running(child) and not procfs.is_running(leader)
    assert marked_processes(prefix) == []
    assert list((tmp_path / "state" / "pids").iterdir()) == []


async def test_stop_does_not_wait_for_a_data_plane_to_route_around_leaving_replicas(
    tmp_path: Path,
) -> None:
    """A replica scaled away waits until the data plane routes around it; when the whole
    runtime stops, that data plane is stopping too and never confirms: stop must not wait
    out the unroute timeout (`coalmine up` took 10 s more to exit after a scale-down)."""
    settings = replace(FAST, unroute_timeout_seconds=600.0, drain_seconds=0.05)
    runtime = LocalDeployments(tmp_path / "state", settings=settings, confirm_unrouted=True)
    await runtime.start()
    prefix = runtime.marker_prefix
    try:
        await runtime.apply(deployment(replicas=1))
        await eventually(lambda: ready_count(runtime) == 1, "1 ready")
        pids = running_pids(runtime)
        await runtime.scale("default", "web", 0)  # leaving; nobody confirms the new routes
        await asyncio.sleep(0.2)
        assert all(procfs.is_running(pid) for pid in pids), "it did not wait to be unrouted"
    finally:
        async with asyncio.timeout(60):  # far below the 600 s it would wait
            await runtime.stop()
    assert marked_processes(prefix) == []
