"""The supervisor with a real Envoy: restarts after SIGKILL, clean stop, start failures."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
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


def test_envoy_dies_with_a_crashed_coalmine(tmp_path: Path) -> None:
    """A coalmine process killed with SIGKILL cannot stop Envoy; Envoy must not outlive it
    (an orphan would keep the gateway port)."""
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from coalmine.local.envoy import EnvoyDataPlane, EnvoySettings\n"
        "async def main():\n"
        "    plane = EnvoyDataPlane(EnvoySettings(state_dir=Path(sys.argv[1])))\n"
        "    await plane.start()\n"
        "    print(plane.supervisor.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    command = [sys.executable, "-c", script, str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            envoy_pid = int(parent.stdout.readline())
            assert _running(envoy_pid)
        finally:
            parent.kill()
    deadline = time.monotonic() + 10
    while _running(envoy_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(envoy_pid), "Envoy outlived the coalmine process that started it"
