"""Leftovers of a dead daemon are killed on the next start; nothing else ever is."""

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
from tests.local.processes.conftest import FAST, KilledDaemon, wait_gone


async def test_the_next_start_kills_what_a_killed_daemon_left(
    killed_daemon: KilledDaemon,
) -> None:
    [record] = killed_daemon.records
    await wait_gone([record.pid], within=5)
    assert procfs.is_running(killed_daemon.child)  # left behind

    runtime = LocalDeployments(killed_daemon.state_dir, settings=FAST)
    killed = await runtime.start()
    await runtime.stop()

    assert killed == [killed_daemon.child]
    assert not procfs.is_running(killed_daemon.child)
    assert PidFiles(killed_daemon.state_dir / "pids").read_all() == []


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
