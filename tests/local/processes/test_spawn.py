"""A replica process outlives its daemon: a killed `coalmine up` must not take the service
down (the next daemon adopts it, see test_leftovers)."""

from __future__ import annotations

import asyncio

from coalmine.local.processes import procfs
from tests.local.processes.conftest import KilledDaemon


async def test_a_replica_keeps_running_when_its_daemon_is_killed(
    killed_daemon: KilledDaemon,
) -> None:
    [record] = killed_daemon.records
    assert record.pid != record.owner_pid
    assert not procfs.is_running(record.owner_pid)
    await asyncio.sleep(0.5)  # a parent-death signal would have arrived by now
    assert procfs.is_running(record.pid)
    assert procfs.is_running(killed_daemon.child)
    info = procfs.proc_info(record.pid)
    assert info is not None and info.pgid == record.pid  # its own group, not the daemon's
