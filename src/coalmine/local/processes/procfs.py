"""What /proc says about a process: is it alive, is it ours, who is in its group.

Used to make sure that a pid we are about to kill is still the process we started
(pids are reused), never a stranger. Linux only: elsewhere nothing can be verified,
so nothing is ever reported as ours.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcInfo", "group_members", "has_env", "is_running", "proc_info", "wait_until_gone"]

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    state: str
    """One letter: R, S, D, Z (zombie: exited, not yet reaped), ..."""
    pgid: int
    start_ticks: int
    """Start time in clock ticks after boot: with the pid, it names one process forever."""


def proc_info(pid: int) -> ProcInfo | None:
    """The process's state, group and start time; None if there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may contain anything: split after it.
    fields = text[text.rindex(")") + 2 :].split()
    return ProcInfo(pid=pid, state=fields[0], pgid=int(fields[2]), start_ticks=int(fields[19]))


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    info = proc_info(pid)
    return info is not None and info.state not in ("Z", "X")


def has_env(pid: int, entry: str) -> bool:
    """Whether the process was started with the environment entry "NAME=value"."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return entry.encode() in environ.split(b"\0")


def group_members(pgid: int) -> list[ProcInfo]:
    """The live (non-zombie) processes of a process group."""
    members = []
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            info = proc_info(int(entry.name))
            if info is not None and info.pgid == pgid and info.state not in ("Z", "X"):
                members.append(info)
    return members


async def wait_until_gone(pids: list[int], seconds: float) -> list[int]:
    """Poll until the processes are gone (or zombies); returns those still running."""
    deadline = time.monotonic() + seconds
    while True:
        pids = [pid for pid in pids if is_running(pid)]
        if not pids or time.monotonic() >= deadline:
            return pids
        await asyncio.sleep(0.02)
