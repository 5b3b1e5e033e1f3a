"""Processes a previous daemon left behind: recorded when started, adopted or killed later.

Every replica process is recorded in `<state-dir>/pids/` while it runs (pid, start time,
an environment marker only it carries, the daemon that started it, and what the next
daemon needs to take it over: revision, pod template, host ports). Replicas outlive
their daemon on purpose (a killed `coalmine up` must not take the service down), so a
new daemon first looks for them: `find_orphans` returns the records whose daemon is gone
and whose process still runs as recorded (same pid, same start time, same marker) for
adoption; `kill_leftovers` kills the others' leftovers (what such a replica itself
started, records without adoption data) by the recorded pid's process group, and only
processes that carry the record's marker: never a blind kill of a pid that may have
been reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coalmine.local.processes import procfs
from coalmine.local.processes.handle import ProcessHandle

__all__ = [
    "MARKER_ENV",
    "Orphan",
    "PidFiles",
    "ProcessRecord",
    "find_orphans",
    "kill_leftovers",
    "kill_records",
]

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
    """The daemon that started (or adopted) it."""
    owner_start_ticks: int | None
    revision: str = ""
    """The pod-template-hash it runs."""
    template: dict[str, Any] | None = None
    """Its pod template (JSON), so that a new daemon can probe and route it as before."""
    host_ports: dict[str, int] = field(default_factory=dict)
    """Container port (as a string: JSON keys) -> host port."""
    ready_since: float | None = None
    """Wall-clock time (epoch seconds) it became ready; None while it is not. A new
    daemon takes an adopted replica as ready from then on (Envoy routes to it) until
    its readiness probe says otherwise, as a restarted kubelet keeps a pod's status."""

    @property
    def adoptable(self) -> bool:
        return bool(self.revision) and self.template is not None

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


@dataclass
class Orphan:
    """A replica process whose daemon is gone, still running as recorded."""

    record: ProcessRecord
    handle: ProcessHandle


def find_orphans(pid_files: PidFiles) -> tuple[list[Orphan], list[ProcessRecord]]:
    """The records of daemons that are gone: (still running as recorded and adoptable,
    the rest). Records of a daemon that still runs are in neither."""
    orphans, rest = [], []
    for record in pid_files.read_all():
        if record.owner_alive():
            continue
        handle = ProcessHandle.adopt(record.pid, record.start_ticks)
        if handle is not None and record.adoptable and procfs.has_env(record.pid, record.marker):
            orphans.append(Orphan(record, handle))
            continue
        if handle is not None:
            handle.close()
        rest.append(record)
    return orphans, rest


async def kill_leftovers(
    pid_files: PidFiles, *, grace: float = 5.0, kill_wait: float = 5.0
) -> list[int]:
    """Kill the processes of records whose daemon is gone; returns the pids killed.

    Records of a daemon that is still running (this one, or another one sharing the
    state directory) are left alone.
    """
    records = [r for r in pid_files.read_all() if not r.owner_alive()]
    return await kill_records(pid_files, records, grace=grace, kill_wait=kill_wait)


async def kill_records(
    pid_files: PidFiles, records: list[ProcessRecord], *, grace: float, kill_wait: float
) -> list[int]:
    """Kill what still runs of these records (marker-checked) and forget them."""
    targets: list[int] = []
    for record in records:
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
