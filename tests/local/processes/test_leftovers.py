"""Replicas outlive a killed daemon and the next one adopts them; what it cannot adopt is
killed, and nothing else ever is."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from coalmine.local.processes import (
    LocalDeployments,
    PidFiles,
    ProcessRecord,
    kill_leftovers,
    procfs,
)
from tests.local.processes.conftest import FAST, KilledDaemon, deployment, eventually


async def test_the_next_daemon_adopts_the_replica_a_killed_daemon_left(
    killed_daemon: KilledDaemon,
) -> None:
    [record] = killed_daemon.records
    assert procfs.is_running(record.pid), "the replica outlives its daemon"
    assert procfs.is_running(killed_daemon.child)

    runtime = LocalDeployments(killed_daemon.state_dir, settings=FAST)
    assert await runtime.start() == []
    assert runtime.orphans == 1
    child_file = killed_daemon.state_dir.parent / "child.pid"  # as the daemon applied it
    await runtime.apply(deployment(env={"CHILD_PID_FILE": str(child_file)}))
    try:
        # Ready at once: it was ready when its daemon died (as recorded) and the data plane
        # still routes to it; its readiness probe takes over from there.
        assert record.ready_since is not None
        [endpoint] = runtime.endpoints("default", {"app": "web"})
        [status] = runtime.status("default", "web").replica_details
        assert (endpoint.replica, status.pid) == (record.replica, record.pid)
        assert dict(endpoint.ports.host_ports) == {
            int(port): host for port, host in record.host_ports.items()
        }
        pid_files = PidFiles(killed_daemon.state_dir / "pids")
        await eventually(  # recorded as ours now
            lambda: [r.owner_pid for r in pid_files.read_all()] == [os.getpid()], "our record"
        )
    finally:
        await runtime.stop()
    assert not procfs.is_running(record.pid)
    assert not procfs.is_running(killed_daemon.child)  # its group went with it


async def test_a_replica_whose_deployment_is_gone_is_killed(killed_daemon: KilledDaemon) -> None:
    [record] = killed_daemon.records
    runtime = LocalDeployments(killed_daemon.state_dir, settings=FAST)
    await runtime.start()
    killed = await runtime.kill_unclaimed()
    await runtime.stop()

    assert sorted(killed) == sorted([record.pid, killed_daemon.child])
    assert not procfs.is_running(record.pid)
    assert not procfs.is_running(killed_daemon.child)
    assert PidFiles(killed_daemon.state_dir / "pids").read_all() == []


async def test_a_replica_started_again_meanwhile_is_not_adopted(
    killed_daemon: KilledDaemon,
) -> None:
    """Same pid file, another process: the start time tells them apart."""
    [record] = killed_daemon.records
    pid_files = PidFiles(killed_daemon.state_dir / "pids")
    pid_files.write(replace(record, start_ticks=(record.start_ticks or 0) - 1))
    runtime = LocalDeployments(killed_daemon.state_dir, settings=FAST)
    await runtime.start()
    assert runtime.orphans == 0
    await runtime.stop()
    assert procfs.is_running(record.pid)  # not ours to kill either


@pytest.fixture
async def stranger() -> AsyncIterator[asyncio.subprocess.Process]:
    """A process group leader that carries a marker, not started by any runtime."""
    env = {**os.environ, "COALMINE_REPLICA": "t/default/web/web-1"}
    process = await asyncio.create_subprocess_exec("sleep", "30", env=env, start_new_session=True)
    await asyncio.sleep(0.05)  # let exec happen: the environment is read from /proc
    yield process
    if process.returncode is None:
        process.kill()
    await process.wait()


def record_of(process: asyncio.subprocess.Process) -> ProcessRecord:
    info, owner = procfs.proc_info(process.pid), procfs.proc_info(os.getpid())
    assert info is not None and owner is not None
    return ProcessRecord(
        pid=process.pid,
        start_ticks=info.start_ticks,
        marker="COALMINE_REPLICA=t/default/web/web-1",
        namespace="default",
        deployment="web",
        replica="web-1",
        owner_pid=os.getpid(),
        owner_start_ticks=owner.start_ticks - 1,  # an owner that is gone
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"marker": "COALMINE_REPLICA=t/default/web/web-2"}, "it lacks the record's marker"),
        ({"start_ticks": 1}, "it started at another time than the recorded process"),
        ({"owner_start_ticks": None}, "its daemon is alive"),
    ],
)
async def test_a_process_that_is_not_a_leftover_is_spared(
    stranger: asyncio.subprocess.Process, tmp_path: Path, change: dict[str, object], why: str
) -> None:
    pid_files = PidFiles(tmp_path)
    record = record_of(stranger)
    if change == {"owner_start_ticks": None}:
        owner = procfs.proc_info(os.getpid())
        assert owner is not None
        change = {"owner_start_ticks": owner.start_ticks}
    pid_files.write(replace(record, **change))  # type: ignore[arg-type]

    assert await kill_leftovers(pid_files, grace=1) == [], why
    assert procfs.is_running(stranger.pid)


async def test_a_recorded_process_of_a_dead_daemon_is_killed(
    stranger: asyncio.subprocess.Process, tmp_path: Path
) -> None:
    pid_files = PidFiles(tmp_path)
    pid_files.write(record_of(stranger))
    assert await kill_leftovers(pid_files, grace=1) == [stranger.pid]
    assert await stranger.wait() < 0
    assert pid_files.read_all() == []
