"""Keeps one Envoy process running: start, wait until ready, restart when it dies, stop.

Envoy runs with --disable-hot-restart: hot restart is what creates
/dev/shm/envoy_shared_memory_<id> (which Envoy never removes, not even on SIGTERM) and
what makes two Envoys on one machine collide on --base-id. We never hot-restart:
everything that changes arrives through the xDS files, so the bootstrap never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from coalmine.errors import Unavailable
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.settings import EnvoySettings

__all__ = ["EnvoySupervisor"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_STABLE_S = 10.0
"""An Envoy that ran this long before dying restarts after the shortest back-off again."""


class EnvoySupervisor:
    """One supervised Envoy. `on_restart` runs after every automatic restart, once the
    new process is ready (the data plane uses it to check the routes came back)."""

    def __init__(
        self,
        settings: EnvoySettings,
        bootstrap: Path,
        session: aiohttp.ClientSession,
        on_restart: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._bootstrap = bootstrap
        self._session = session
        self._on_restart = on_restart
        self._process: asyncio.subprocess.Process | None = None
        self._admin: EnvoyAdmin | None = None
        self._running = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._admin_port = settings.admin_port
        self.restarts = 0
        """How many times Envoy died and was started again."""

    @property
    def log_path(self) -> Path:
        return self._settings.directory / "envoy.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def admin(self) -> EnvoyAdmin:
        """The running Envoy's admin API; Unavailable while it is down or restarting."""
        if self._admin is None or not self._running.is_set():
            raise Unavailable("Envoy is not running (it is starting, restarting or stopped)")
        return self._admin

    async def wait_running(self, timeout_s: float) -> EnvoyAdmin:
        """The admin API of a ready Envoy, waiting up to `timeout_s` for a restart."""
        try:
            await asyncio.wait_for(self._running.wait(), timeout_s)
        except TimeoutError:
            raise Unavailable(
                f"Envoy was not running within {timeout_s:.1f}s; see {self.log_path}"
            ) from None
        return self.admin

    async def start(self) -> None:
        """Start Envoy and return once it is ready; raises Unavailable if it is not."""
        if self._monitor is not None:
            raise RuntimeError("this supervisor has already started Envoy")
        self._stopping = False
        await self._launch()
        self._monitor = asyncio.create_task(self._watch(), name="envoy-supervisor")

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout. Safe to call more than once."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        await self._terminate()

    async def _launch(self) -> None:
        settings = self._settings
        address_file = settings.directory / "admin-address"
        address_file.unlink(missing_ok=True)
        settings.directory.mkdir(parents=True, exist_ok=True)
        command = self._command(address_file)
        with self.log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                preexec_fn=_die_with_parent,
            )
        log.info("started Envoy (pid %s)", self._process.pid)
        try:
            self._admin = await self._wait_ready(self._process, address_file)
        except BaseException:
            await self._terminate()
            if not self._settings.admin_port:
                self._admin_port = 0  # maybe taken meanwhile: let the next try pick a port
            raise
        self._admin_port = int(self._admin.url.rsplit(":", 1)[1])
        self._running.set()

    def _command(self, address_file: Path) -> list[str]:
        settings = self._settings
        command = [
            settings.envoy_binary(),
            *("-c", str(self._bootstrap)),
            "--disable-hot-restart",
            *("--admin-address-path", str(address_file)),
            *("--log-level", settings.log_level),
            *("--drain-time-s", str(max(1, round(settings.drain_time.total_seconds())))),
        ]
        if settings.concurrency is not None:
            command += ["--concurrency", str(settings.concurrency)]
        if self._admin_port:
            admin = {
                "address": {
                    "socket_address": {"address": "127.0.0.1", "port_value": self._admin_port}
                }
            }
            command += ["--config-yaml", json.dumps({"admin": admin})]
        return command

    async def _wait_ready(
        self, process: asyncio.subprocess.Process, address_file: Path
    ) -> EnvoyAdmin:
        timeout_s = self._settings.ready_timeout.total_seconds()
        deadline = time.monotonic() + timeout_s
        admin: EnvoyAdmin | None = None
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise Unavailable(
                    f"Envoy exited with code {process.returncode} while starting:"
                    f" {self._log_tail()} (whole log: {self.log_path})"
                )
            address = _read_address(address_file) if admin is None else None
            if address:
                admin = EnvoyAdmin(
                    self._session, f"http://{address}", self._settings.admin_timeout.total_seconds()
                )
            if admin is not None and await admin.is_ready():
                return admin
            await asyncio.sleep(0.02)
        raise Unavailable(f"Envoy was not ready within {timeout_s:.1f}s; see {self.log_path}")

    async def _watch(self) -> None:
        """Wait for Envoy to exit; unless we are stopping it, start it again with back-off."""
        backoff = self._settings.restart_backoff.total_seconds()
        while True:
            assert self._process is not None
            started = time.monotonic()
            code = await self._process.wait()
            self._running.clear()
            log.warning("Envoy (pid %s) exited with code %s", self._process.pid, code)
            if time.monotonic() - started > _STABLE_S:
                backoff = self._settings.restart_backoff.total_seconds()
            backoff = await self._restart(backoff)

    async def _restart(self, backoff: float) -> float:
        """Start Envoy again, retrying with doubling back-off; returns the next back-off."""
        ceiling = self._settings.restart_backoff_max.total_seconds()
        while True:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, ceiling)
            try:
                await self._launch()
            except Unavailable as error:
                log.warning("restarting Envoy failed, retrying in %.1fs: %s", backoff, error)
                continue
            self.restarts += 1
            if self._on_restart is not None:
                try:
                    await self._on_restart()
                except Exception:
                    log.exception("checking the configuration after an Envoy restart failed")
            return backoff

    async def _terminate(self) -> None:
        self._running.clear()
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._settings.stop_timeout.total_seconds())
        except TimeoutError:
            log.warning("Envoy (pid %s) ignored SIGTERM; killing it", process.pid)
            process.kill()
            await process.wait()

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM Envoy when coalmine dies, so that a
    crashed coalmine leaves no orphan Envoy holding the gateway port."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _read_address(path: Path) -> str | None:
    """What Envoy wrote to --admin-address-path ("127.0.0.1:port"), once it has."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
