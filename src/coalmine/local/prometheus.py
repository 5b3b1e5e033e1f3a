"""The Prometheus of `coalmine up --prometheus`, supervised like Envoy.

If it dies, it is started again on the same port with the same data directory after
0.5 s, doubling to 30 s while it keeps dying (reset once it has run for a minute), and
every exit and restart is logged. Its pid is recorded in `<state-dir>/prometheus/
prometheus-pid.json`: a Prometheus that a killed `coalmine up` left behind is stopped
by the next one (checked by pid, start time and its data directory on the command line,
so that never a stranger is signalled) before it starts its own. What an outage means
for a running analysis is the engine's business (docs/engine.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from coalmine.errors import Unavailable
from coalmine.local.envoy.files import write_json_atomically
from coalmine.local.processes import procfs
from coalmine.local.processes.handle import ProcessHandle
from coalmine.metrics.prometheus_server import PrometheusServer, ScrapeTarget

__all__ = ["SupervisedPrometheus"]

log = logging.getLogger(__name__)

POLL_S = 0.5
"""How often the supervisor looks whether Prometheus still runs."""
BACKOFF_S = (0.5, 30.0)
"""First and longest delay before a restart."""
STABLE_S = 60.0
"""A Prometheus that ran this long before dying restarts after the first delay again."""
STOP_S = 5.0
"""SIGTERM to SIGKILL, for a left-over Prometheus."""


class SupervisedPrometheus:
    def __init__(self, targets: Sequence[ScrapeTarget], *, port: int, data_dir: Path) -> None:
        self.server = PrometheusServer(targets, port=port, data_dir=data_dir, ready_timeout=15.0)
        self._record = data_dir / "prometheus-pid.json"
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self.restarts = 0
        """How many times Prometheus died and was started again."""

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> None:
        """Stop a left-over Prometheus of a previous run, start ours, supervise it."""
        await _stop_leftover(self._record, self.server.data_dir)
        await self._launch()
        self._task = asyncio.create_task(self._supervise(), name="prometheus-supervisor")

    async def stop(self) -> None:
        """Stop supervising, then Prometheus (SIGTERM, SIGKILL after 10 s)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._starting is not None:  # a start in its thread: let it finish first
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)
        await asyncio.to_thread(self.server.close)
        self._record.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL now (a stop that overran its time)."""
        pid = self.server.pid
        if pid is not None and procfs.is_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def _launch(self) -> None:
        self._starting = asyncio.ensure_future(asyncio.to_thread(self.server.start))
        try:
            await asyncio.shield(self._starting)
        finally:
            if self._starting.done():
                self._starting = None
        pid = self.server.pid
        info = procfs.proc_info(pid) if pid is not None else None
        if pid is not None and info is not None:
            write_json_atomically(self._record, {"pid": pid, "start_ticks": info.start_ticks})

    async def _supervise(self) -> None:
        delay, longest = BACKOFF_S
        started = time.monotonic()
        while True:
            await asyncio.sleep(POLL_S)
            if self.server.running:
                continue
            code, pid = self.server.exit_code, self.server.pid
            if time.monotonic() - started > STABLE_S:
                delay = BACKOFF_S[0]
            log.warning(
                "Prometheus (pid %s) exited with code %s; restarting it in %.1fs", pid, code, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
            try:
                await self._launch()
            except Unavailable as error:
                log.warning("restarting Prometheus failed: %s", error)
                continue
            self.restarts += 1
            started = time.monotonic()
            log.warning(
                "Prometheus restarted (restart %d, pid %s) at %s",
                self.restarts,
                self.server.pid,
                self.server.url,
            )


def _read_record(record: Path) -> tuple[int, int] | None:
    try:
        found = json.loads(record.read_text())
        return int(found["pid"]), int(found["start_ticks"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


async def _stop_leftover(record: Path, data_dir: Path) -> None:
    recorded = _read_record(record)
    if recorded is None:
        return
    pid, ticks = recorded
    handle = ProcessHandle.adopt(pid, ticks)
    if handle is None:
        return
    if f"--storage.tsdb.path={data_dir}" not in _cmdline(pid):
        handle.close()
        return
    log.info("stopping the Prometheus (pid %s) a previous coalmine up left running", pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not handle.send_signal(sig):
            break
        try:
            async with asyncio.timeout(STOP_S):
                await handle.wait()
            break
        except TimeoutError:
            continue
    handle.close()


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []
