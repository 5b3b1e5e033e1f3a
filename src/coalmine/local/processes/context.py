"""What every replica of one runtime shares: settings, ports, the HTTP client, the files."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from coalmine.local.processes import procfs
from coalmine.local.processes.configenv import ConfigLookup
from coalmine.local.processes.hostports import PortAllocator
from coalmine.local.processes.leftovers import MARKER_ENV, PidFiles
from coalmine.local.processes.settings import ProcessSettings

__all__ = ["RuntimeContext"]


@dataclass(frozen=True)
class RuntimeContext:
    settings: ProcessSettings
    allocator: PortAllocator
    session: aiohttp.ClientSession
    """For HTTP probes; connections are not kept alive (each probe connects anew)."""
    state_dir: Path
    pid_files: PidFiles
    token: str
    """Unique to this runtime: part of every replica's marker."""
    unrouted: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())
    """Returns once the data plane no longer routes to replicas that left the endpoints
    (a replica waits for it before its drain time and SIGTERM)."""
    configs: ConfigLookup = field(default=lambda _kind, _namespace, _name: None)
    """The content of a stored ConfigMap or Secret, for `env[].valueFrom` and `envFrom`."""
    owner_pid: int = field(default_factory=os.getpid)
    """The daemon: recorded with each process, so leftovers can tell whose they are."""

    @property
    def owner_start_ticks(self) -> int | None:
        info = procfs.proc_info(self.owner_pid)
        return info.start_ticks if info else None

    def log_path(self, namespace: str, deployment: str, replica: str) -> Path:
        return self.state_dir / "logs" / namespace / deployment / f"{replica}.log"

    @property
    def marker_prefix(self) -> str:
        """How every replica marker of this runtime starts."""
        return f"{MARKER_ENV}={self.token}/"

    def marker(self, namespace: str, deployment: str, replica: str) -> str:
        """The environment entry that marks one replica's processes as ours."""
        return f"{self.marker_prefix}{namespace}/{deployment}/{replica}"


async def _nothing() -> None:
    return None
