"""A process runtime with short timings, the test workload, and helpers to wait and look."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.workloads import Deployment
from coalmine.local.processes import LocalDeployments, ProcessRecord, ProcessSettings, procfs

WORKLOAD = Path(__file__).with_name("workload.py")
REPOSITORY = Path(__file__).parents[3]

FAST = ProcessSettings(
    probe_period_seconds=0.1,
    probe_timeout_seconds=1.0,
    termination_grace_seconds=2.0,
    tcp_check_period_seconds=0.05,
    drain_seconds=0.05,
    backoff_initial_seconds=0.2,
    backoff_max_seconds=1.0,
    backoff_reset_seconds=30.0,
)


def deployment(
    name: str = "web",
    *,
    replicas: int = 1,
    version: str = "1",
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    readiness: dict[str, Any] | None = None,
    liveness: dict[str, Any] | None = None,
    startup: dict[str, Any] | None = None,
    **spec: Any,
) -> Deployment:
    """A Deployment of the test workload; `readiness` defaults to GET /healthz on port 8080."""
    labels = labels or {"app": name}
    container: dict[str, Any] = {
        "name": "app",
        "command": command or [sys.executable, str(WORKLOAD)],
        "env": [{"name": k, "value": v} for k, v in {"VERSION": version, **(env or {})}.items()],
        "ports": [{"containerPort": 8080, "name": "http"}] if ports is None else ports,
    }
    if readiness is None:
        readiness = {"httpGet": {"path": "/healthz", "port": 8080}}
    if readiness:
        container["readinessProbe"] = readiness
    if liveness:
        container["livenessProbe"] = liveness
    if startup:
        container["startupProbe"] = startup
    return Deployment.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                **spec,
            },
        }
    )


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], what: str, within: float = 15.0
) -> None:
    """Wait until `condition` holds; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {within}s: {what}")
        await asyncio.sleep(0.02)


def marked_processes(prefix: str) -> list[int]:
    """Live processes whose environment has an entry starting with `prefix`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            environ = Path(entry.path, "environ").read_bytes().split(b"\0")
            ours = any(item.startswith(prefix.encode()) for item in environ)
            if ours and procfs.is_running(int(entry.name)):
                found.append(int(entry.name))
    return found


async def wait_gone(pids: list[int], within: float = 10.0) -> None:
    await eventually(
        lambda: not any(procfs.is_running(pid) for pid in pids), f"pids {pids} gone", within
    )


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalDeployments]:
    """A started runtime; after the test it is stopped and must have left nothing running."""
    deployments = LocalDeployments(tmp_path / "state", settings=FAST)
    await deployments.start()
    prefix = deployments.marker_prefix
    try:
        yield deployments
    finally:
        await deployments.stop()
    assert marked_processes(prefix) == []


@dataclass(frozen=True)
class KilledDaemon:
    state_dir: Path
    records: list[ProcessRecord]
    """The replica processes it said it ran."""
    child: int
    """A process the replica forked: not its direct child, so not covered by PDEATHSIG."""


@pytest.fixture
async def killed_daemon(tmp_path: Path) -> AsyncIterator[KilledDaemon]:
    """A daemon (another Python process) that ran a replica, then was SIGKILLed."""
    state_dir, child_file = tmp_path / "state", tmp_path / "child.pid"
    daemon = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tests.local.processes.daemon", str(state_dir), str(child_file)],
        cwd=REPOSITORY,
        stdout=asyncio.subprocess.PIPE,
    )
    assert daemon.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = await daemon.stdout.readline()
        records = [ProcessRecord(**fields) for fields in json.loads(line)]
        child = int(child_file.read_text())
    finally:
        daemon.send_signal(signal.SIGKILL)
        await daemon.wait()
    try:
        yield KilledDaemon(state_dir, records, child)
    finally:  # whatever the test did, leave nothing running
        for pid in [child, *(record.pid for record in records)]:
            with contextlib.suppress(ProcessLookupError):
                if procfs.is_running(pid):
                    os.kill(pid, signal.SIGKILL)
