"""Keeps one Envoy process running: start or adopt, wait until ready, restart when it dies.

Envoy outlives the `coalmine up` that started it (no parent-death signal, its own session
so a Ctrl-C in the terminal does not reach it): the data plane keeps serving while the
control plane restarts, and the next `coalmine up` adopts it (`adopt`) after checking it
is the very process recorded in `envoy/envoy-pid.json` (pid, start time from /proc, the
state directory in its environment, the bootstrap on its command line), never a process
that happens to have the recorded pid.

Envoy runs with --disable-hot-restart: hot restart is what creates
/dev/shm/envoy_shared_memory_<id> (which Envoy never removes, not even on SIGTERM) and
what makes two Envoys on one machine collide on --base-id. We never hot-restart:
everything that changes arrives through the xDS files, so the bootstrap never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from coalmine.errors import Unavailable
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.files import write_json_atomically
from coalmine.local.envoy.settings import EnvoySettings
from coalmine.local.processes import procfs
from coalmine.local.processes.handle import ProcessHandle

__all__ = ["MARKER_ENV", "EnvoySupervisor"]

log = logging.getLogger(__name__)

MARKER_ENV = "COALMINE_ENVOY"
"""Set in Envoy's environment to the absolute state directory: part of its identity."""
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
        self._process: ProcessHandle | None = None
        self._admin: EnvoyAdmin | None = None
        self._running = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._admin_port = settings.admin_port
        self.restarts = 0
        """How many times Envoy died and was started again."""
        self.adopted = False
        """Whether the running Envoy was left by a previous `coalmine up` and taken over."""

    @property
    def log_path(self) -> Path:
        return self._settings.directory / "envoy.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def identity(self) -> tuple[int, int | None] | None:
        """(pid, start ticks) of the running Envoy; None while none runs."""
        process = self._process
        if process is None or not self._running.is_set():
            return None
        return process.pid, process.start_ticks

    @property
    def admin(self) -> EnvoyAdmin:
        """The running Envoy's admin API; Unavailable while it is down or restarting."""
        if self._admin is None or not self._running.is_set():
            raise Unavailable("Envoy is not running (it is starting, restarting or stopped)")
        return self._admin

    async def wait_running(self, timeout_s: float) -> EnvoyAdmin:
        """The admin API of a ready Envoy, waiting up to `timeout_s` for a restart."""
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: see canaries.py
                await self._running.wait()
        except TimeoutError:
            raise Unavailable(
                f"Envoy was not running within {timeout_s:.1f}s; see {self.log_path}"
            ) from None
        return self.admin

    @property
    def record_path(self) -> Path:
        return self._settings.directory / "envoy-pid.json"

    async def start(self) -> None:
        """Start Envoy and return once it is ready; raises Unavailable if it is not."""
        if self._monitor is not None:
            raise RuntimeError("this supervisor has already started Envoy")
        self._stopping = False
        await self._launch()
        self._monitor = asyncio.create_task(self._watch(), name="envoy-supervisor")

    async def adopt(self) -> bool:
        """Take over the Envoy a previous `coalmine up` left running, if it is still the
        recorded process and answers ready; True if it did (then supervise it as if we
        had started it). Otherwise kill what is left of it and return False."""
        if self._monitor is not None:
            raise RuntimeError("this supervisor has already started Envoy")
        handle = self._recorded_process()
        if handle is None:
            return False
        address = _read_address(self._settings.directory / "admin-address")
        admin = None
        if address:
            admin = EnvoyAdmin(
                self._session, f"http://{address}", self._settings.admin_timeout.total_seconds()
            )
        if admin is None or not await admin.is_ready():
            log.warning("the Envoy left running (pid %s) is not ready; replacing it", handle.pid)
            self._process = handle
            await self._terminate()
            return False
        self._process, self._admin, self.adopted = handle, admin, True
        self._admin_port = int(admin.url.rsplit(":", 1)[1])
        self._running.set()
        self._stopping = False
        self._write_record()
        log.info("adopted the Envoy left running (pid %s)", handle.pid)
        self._monitor = asyncio.create_task(self._watch(), name="envoy-supervisor")
        return True

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout. Safe to call more than once."""
        self._stopping = True
        await self._stop_watching()
        await self._terminate()
        self.record_path.unlink(missing_ok=True)

    async def detach(self) -> None:
        """Stop supervising and leave Envoy serving, recorded, for the next `coalmine up`."""
        self._stopping = True
        await self._stop_watching()
        self._running.clear()
        if self._process is not None:
            self._process.close()

    def kill(self) -> None:
        """SIGKILL now, without waiting (the last resort of a stop that overran)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)

    async def _stop_watching(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    def _recorded_process(self) -> ProcessHandle | None:
        """The recorded Envoy if the same process still runs: same pid and start time,
        our marker in its environment and our bootstrap on its command line."""
        try:
            record = json.loads(self.record_path.read_text())
            pid, ticks = int(record["pid"]), int(record["start_ticks"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        handle = ProcessHandle.adopt(pid, ticks)
        if handle is None:
            return None
        if not procfs.has_env(pid, self._marker()) or str(self._bootstrap) not in _cmdline(pid):
            handle.close()
            return None
        return handle

    def _marker(self) -> str:
        return f"{MARKER_ENV}={self._settings.state_dir.resolve()}"

    def _write_record(self) -> None:
        assert self._process is not None
        record = {"pid": self._process.pid, "start_ticks": self._process.start_ticks}
        write_json_atomically(self.record_path, record)

    async def _launch(self) -> None:
        settings = self._settings
        address_file = settings.directory / "admin-address"
        address_file.unlink(missing_ok=True)
        settings.directory.mkdir(parents=True, exist_ok=True)
        self._process = ProcessHandle.spawn(self._popen(self._command(address_file)))
        self.adopted = False
        log.info("started Envoy (pid %s)", self._process.pid)
        try:
            self._admin = await self._wait_ready(self._process, address_file)
        except BaseException:
            await self._terminate()
            if not self._settings.admin_port:
                self._admin_port = 0  # maybe taken meanwhile: let the next try pick a port
            raise
        self._admin_port = int(self._admin.url.rsplit(":", 1)[1])
        self._write_record()
        self._running.set()

    def _popen(self, command: list[str]) -> subprocess.Popen[bytes]:
        name, _, value = self._marker().partition("=")
        with self.log_path.open("ab") as log_file:
            return subprocess.Popen(  # noqa: S603 - the envoy binary, our own arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env={**os.environ, name: value},
                start_new_session=True,  # outlives us; a Ctrl-C in our terminal is ours only
            )

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

    async def _wait_ready(self, process: ProcessHandle, address_file: Path) -> EnvoyAdmin:
        timeout_s = self._settings.ready_timeout.total_seconds()
        deadline = time.monotonic() + timeout_s
        admin: EnvoyAdmin | None = None
        while time.monotonic() < deadline:
            if not process.running:
                await process.wait()
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
        """SIGTERM, SIGKILL after the stop timeout; bounded: never waits longer than twice
        the stop timeout."""
        self._running.clear()
        process = self._process
        if process is None:
            return
        timeout = self._settings.stop_timeout.total_seconds()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not process.send_signal(sig):
                break
            try:
                async with asyncio.timeout(timeout):
                    await process.wait()
                return
            except TimeoutError:
                log.warning("Envoy (pid %s) ignored %s", process.pid, sig.name)
        await _reap_quietly(process)

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


async def _reap_quietly(process: ProcessHandle) -> None:
    """Collect an exited child (no zombie left); give up after a second."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            await process.wait()


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_address(path: Path) -> str | None:
    """What Envoy wrote to --admin-address-path ("127.0.0.1:port"), once it has."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
