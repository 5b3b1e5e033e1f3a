"""Processes a previous daemon left behind: recorded when started, killed on the next start.

Every replica process is recorded in `<state-dir>/pids/` while it runs (pid, start time,
an environment marker only it carries, and the daemon that started it). The parent-death
signal already kills a replica when its daemon dies, but not what the replica itself
started, and not on other systems. `kill_leftovers` finds those by the recorded pid's
process group, and kills only processes that carry the record's marker and whose daemon
is gone: never a blind kill of a pid that may have been reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

from coalmine.local.processes import procfs

__all__ = ["MARKER_ENV", "PidFiles", "ProcessRecord", "kill_leftovers"]

MARKER_ENV = "COALMINE_REPLICA"
"""The environment variable that marks a replica process (and its children) as ours."""


@dataclass(frozen=True)
class ProcessRecord:
    """One running replica process, as the daemon that started it knows it."""

    pid: int
    start_ticks: int | None
    marker: str
    """The "COALMINE_REPLICA=..." entry in its environment."""
    namespace: str
    deployment: str
    replica: str
    owner_pid: int
    """The daemon that started it."""
    owner_start_ticks: int | None

    def owner_alive(self) -> bool:
        owner = procfs.proc_info(self.owner_pid)
        return (
            owner is not None
            and owner.state not in ("Z", "X")
            and owner.start_ticks == self.owner_start_ticks
        )


class PidFiles:
    """The records on disk, one JSON file per replica process, written before it is used."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: ProcessRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(record)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(asdict(record)))
        scratch.replace(path)

    def remove(self, record: ProcessRecord) -> None:
        self._path(record).unlink(missing_ok=True)

    def read_all(self) -> list[ProcessRecord]:
        records = []
        for path in sorted(self.directory.glob("*.json")):
            with contextlib.suppress(ValueError, TypeError, OSError):
                records.append(ProcessRecord(**json.loads(path.read_text())))
        return records

    def _path(self, record: ProcessRecord) -> Path:
        return self.directory / f"{record.replica}-{record.pid}.json"


async def kill_leftovers(
    pid_files: PidFiles, *, grace: float = 5.0, kill_wait: float = 5.0
) -> list[int]:
    """Kill the processes of records whose daemon is gone; returns the pids killed.

    Records of a daemon that is still running (this one, or another one sharing the
    state directory) are left alone.
    """
    targets: list[int] = []
    for record in pid_files.read_all():
        if record.owner_alive():
            continue
        targets.extend(_ours(record))
        pid_files.remove(record)
    await _terminate(targets, grace, kill_wait)
    return targets


def _ours(record: ProcessRecord) -> list[int]:
    """The live processes of the record's group that carry its marker (the recorded
    pid itself only if its start time matches too)."""
    pids = []
    for member in procfs.group_members(record.pid):
        if member.pid == record.pid and member.start_ticks != record.start_ticks:
            continue
        if procfs.has_env(member.pid, record.marker):
            pids.append(member.pid)
    return pids


async def _terminate(pids: list[int], grace: float, kill_wait: float) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_wait)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        pids = await procfs.wait_until_gone(pids, wait)
        if not pids:
            return
