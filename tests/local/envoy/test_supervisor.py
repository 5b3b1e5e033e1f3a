"""The supervisor with a real Envoy: restarts after SIGKILL, clean stop, start failures."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from coalmine.errors import EnvoyRejected, Unavailable
from coalmine.local.envoy import (
    DataPlane,
    Destination,
    EnvoyDataPlane,
    EnvoySettings,
    Listener,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from coalmine.local.processes import procfs
from tests.local.envoy.conftest import MakeBackend, cluster_of, gateway_url, settings, split
from tests.local.envoy.traffic import Load, backends, burst, eventually

pytestmark = pytest.mark.slow


async def test_killed_envoy_is_restarted_with_the_same_routes(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, canary = await make_backend("primary"), await make_backend("canary")
    by_path = Route(
        "to-primary",
        (Destination("test_primary", 100),),
        matches=(RouteMatch(path=StringMatch.prefix("/primary")),),
    )
    rest = Route("rest", (Destination("test_canary", 100),))
    plane = DataPlane(
        listeners=(Listener(port=0, virtual_hosts=(VirtualHost("any", ("*",), (by_path, rest)),)),),
        clusters=(cluster_of(primary), cluster_of(canary)),
    )
    await dataplane.apply(plane)
    first_pid, first_admin = dataplane.supervisor.pid, dataplane.admin_url
    assert first_pid is not None
    load = Load(http, gateway_url(dataplane, "/primary"), workers=4)
    load.start()
    await load.more(50)

    os.kill(first_pid, signal.SIGKILL)
    await eventually(lambda: dataplane.supervisor.restarts == 1, "Envoy was not restarted")
    await dataplane.supervisor.wait_running(10)
    await load.more(50)
    answers = await load.stop()

    assert dataplane.supervisor.pid != first_pid
    assert dataplane.admin_url == first_admin, "a Prometheus scraping Envoy would lose it"
    assert [a.status for a in answers[-20:]] == [200] * 20
    assert backends(await burst(http, gateway_url(dataplane, "/primary/x"), 20)) == {"primary": 20}
    assert backends(await burst(http, gateway_url(dataplane, "/other"), 20)) == {"canary": 20}
    await dataplane.apply(split({primary: 100, canary: 0}))  # and it takes changes again
    assert backends(await burst(http, gateway_url(dataplane, "/other"), 20)) == {"primary": 20}
    # The collector may have failed a scrape while Envoy was down; it must scrape again now.
    assert await dataplane.metrics.scrape() is not None, dataplane.metrics.last_error


async def test_stop_ends_envoy_and_leaves_no_shared_memory(
    tmp_path: Path, make_backend: MakeBackend
) -> None:
    primary = await make_backend("primary")
    plane = EnvoyDataPlane(settings(tmp_path))
    await plane.start(split({primary: 100}))
    pid = plane.supervisor.pid
    assert pid is not None
    mapped = _maps_shared_memory(pid)

    await plane.stop()

    assert not mapped, "Envoy mapped shared memory; hot restart is not off"
    assert not _running(pid), "Envoy still runs after stop()"
    assert (tmp_path / "envoy" / "envoy.log").exists()


async def test_stop_kills_an_envoy_that_ignores_sigterm(tmp_path: Path) -> None:
    impatient = dataclasses.replace(settings(tmp_path), stop_timeout=timedelta(seconds=0.3))
    plane = EnvoyDataPlane(impatient)
    await plane.start()
    pid = plane.supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM

    await plane.stop()

    assert not _running(pid)


async def test_gateway_port_taken_at_start_fails_start_and_leaves_nothing_running(
    tmp_path: Path, make_backend: MakeBackend
) -> None:
    primary = await make_backend("primary")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        plane = EnvoyDataPlane(settings(tmp_path))
        with pytest.raises(EnvoyRejected, match="Address already in use"):
            await plane.start(split({primary: 100}, port=taken.getsockname()[1]))
    pid = plane.supervisor.pid
    assert pid is not None
    assert not _running(pid)


async def test_missing_envoy_binary_is_a_clear_error(tmp_path: Path) -> None:
    broken = EnvoySettings(state_dir=tmp_path, envoy_path=tmp_path / "no-envoy")
    plane = EnvoyDataPlane(broken)
    with pytest.raises(Unavailable, match="no-envoy is not an executable file"):
        await plane.start()


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _maps_shared_memory(pid: int) -> bool:
    return "/dev/shm/" in Path(f"/proc/{pid}/maps").read_text()


CRASHING_COALMINE = """
import asyncio, sys
from pathlib import Path
from coalmine.local.envoy import EnvoyDataPlane
from tests.local.envoy.conftest import settings, split
from tests.local.envoy.test_supervisor import PortBackend

async def main():
    plane = EnvoyDataPlane(settings(Path(sys.argv[1])))
    await plane.start()
    backends = {PortBackend(name, int(port)): int(weight)
                for name, port, weight in (a.split(":") for a in sys.argv[2:])}
    await plane.apply(split(backends))
    print(plane.supervisor.pid, plane.gateway_address[1], flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@dataclasses.dataclass(frozen=True)
class PortBackend:
    """A backend known by name and port only (what `split` needs), for the script above."""

    name: str
    port: int


async def test_envoy_outlives_a_killed_coalmine_and_the_next_one_adopts_it(
    tmp_path: Path, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """kill -9 of the process that started Envoy: Envoy keeps serving, and a new data plane
    takes it over (same process) without a failed request, then changes its routes."""
    primary, canary = await make_backend("primary"), await make_backend("canary")
    command = [
        sys.executable,
        "-c",
        CRASHING_COALMINE,
        str(tmp_path),
        f"primary:{primary.port}:100",
        f"canary:{canary.port}:0",
    ]
    parent = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        async with asyncio.timeout(30):
            envoy_pid, port = map(int, (await parent.stdout.readline()).split())
        load = Load(http, f"http://127.0.0.1:{port}/", workers=4)
        load.start()
        await load.more(50)
        history = tmp_path / "envoy" / "stats-history.jsonl"
        await eventually(  # of the routed clusters (a sample may come before they exist)
            lambda: (
                history.exists()
                and sum("test_primary" in line for line in history.read_text().splitlines()) >= 2
            ),
            "the killed process never kept two samples",
        )
    finally:
        parent.kill()
        await parent.wait()
    await load.more(100)  # nobody supervises it now; it serves all the same
    assert _running(envoy_pid)

    plane = EnvoyDataPlane(settings(tmp_path))
    await plane.start(adopt=True)
    try:
        assert plane.adopted and plane.supervisor.pid == envoy_pid
        # The samples the killed process took are read back: windows reach across it.
        assert plane.metrics.restored >= 2
        window = plane.metrics.window("test_primary", 60)
        assert window.requests.value is not None and window.requests.value > 0
        await load.more(50)
        await plane.apply(split({primary: 50, canary: 50}, port=port))
        assert plane.supervisor.pid == envoy_pid
        await load.more(100)
        answers = await load.stop()
        assert [a for a in answers if a.status != 200] == []
        assert backends(answers[-60:]).keys() == {"primary", "canary"}
    finally:
        await plane.stop()
    assert not procfs.is_running(envoy_pid)  # a zombie until init reaps it: not ours


async def test_a_recorded_envoy_that_is_another_process_is_not_adopted(
    tmp_path: Path, make_backend: MakeBackend
) -> None:
    """The record names a pid that now belongs to another process (here: the test
    itself): never adopted nor signalled; a fresh Envoy starts."""
    primary = await make_backend("primary")
    (tmp_path / "envoy").mkdir()
    info = procfs.proc_info(os.getpid())
    assert info is not None
    record = {"pid": os.getpid(), "start_ticks": info.start_ticks}
    (tmp_path / "envoy" / "envoy-pid.json").write_text(json.dumps(record))
    plane = EnvoyDataPlane(settings(tmp_path))
    await plane.start(split({primary: 100}), adopt=True)
    try:
        assert not plane.adopted and plane.supervisor.pid != os.getpid()
    finally:
        await plane.stop()
