"""A real `coalmine up` in a subprocess, to kill, stop and start again (tests, benchmarks).

    up = UpProcess(state_dir, gateway_port=free_port())
    await up.start()                 # returns once its API answers
    await up.kill()                  # kill -9: Envoy and the replicas keep serving
    await up.start()                 # adopts them
    code = await up.stop()           # SIGTERM; bounded

Its stdout and stderr go to `<state-dir>/up.log` (appended across starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from coalmine.errors import Unavailable
from coalmine.local.client import LocalClient

__all__ = ["UpProcess", "recorded_children"]


@dataclass
class UpProcess:
    state_dir: Path
    gateway_port: int
    args: tuple[str, ...] = ("--min-interval", "0s")
    """More options of `coalmine up`."""
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    start_seconds: list[float] = field(default_factory=list)
    """How long each start took until the API answered."""

    @property
    def log_path(self) -> Path:
        return self.state_dir / "up.log"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def client(self) -> LocalClient:
        return LocalClient(self.state_dir)

    async def start(self, within: float = 90.0) -> None:
        """Start `coalmine up` and return once its API answers (Unavailable if it exits)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            *("-m", "coalmine", "up", "--state-dir", str(self.state_dir)),
            *("--gateway", f"127.0.0.1:{self.gateway_port}", *self.args),
        ]
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        self.starts += 1
        async with asyncio.timeout(within):
            while not await asyncio.to_thread(self._answers):
                if self.process.returncode is not None:
                    raise Unavailable(
                        f"coalmine up exited with {self.process.returncode}: {self.log_tail()}"
                    )
                await asyncio.sleep(0.05)
        self.start_seconds.append(time.monotonic() - began)

    async def kill(self) -> None:
        """kill -9, and reap it."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 60.0) -> int:
        """Send `sig` (SIGTERM or SIGINT) and wait for the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(within):
            return await self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def _answers(self) -> bool:
        """Whether the API published by *this* process answers."""
        try:
            published = json.loads((self.state_dir / "api.json").read_text())
        except (OSError, ValueError):
            return False
        if self.process is None or published.get("pid") != self.process.pid:
            return False
        try:
            self.client().health()
        except Exception:  # not up yet: any error means "not yet"
            return False
        return True


def recorded_children(state_dir: Path) -> dict[str, int]:
    """The processes `coalmine up` recorded for this state directory: Envoy, Prometheus
    and every replica, by name (as recorded now; read it before stopping)."""
    found: dict[str, int] = {}
    for name, path in (
        ("envoy", state_dir / "envoy" / "envoy-pid.json"),
        ("prometheus", state_dir / "prometheus" / "prometheus-pid.json"),
    ):
        with contextlib.suppress(OSError, ValueError, KeyError):
            found[name] = int(json.loads(path.read_text())["pid"])
    for path in sorted((state_dir / "pids").glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            found[str(record["replica"])] = int(record["pid"])
    return found
