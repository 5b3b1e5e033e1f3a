"""A replica process dies with its daemon, even when the daemon gets no chance to clean up."""

from __future__ import annotations

from coalmine.local.processes import procfs
from tests.local.processes.conftest import KilledDaemon, wait_gone


async def test_a_replica_dies_when_its_daemon_is_killed(killed_daemon: KilledDaemon) -> None:
    [record] = killed_daemon.records
    assert record.pid != record.owner_pid
    await wait_gone([record.pid], within=5)
    # What the replica itself started is not covered: that is the leftovers' job.
    assert procfs.is_running(killed_daemon.child)
