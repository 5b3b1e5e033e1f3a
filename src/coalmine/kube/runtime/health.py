"""`/healthz` and `/readyz`, answered from a thread, so that a stuck event loop shows.

Everything the controller does runs in one asyncio event loop. A probe served by that
loop cannot say the loop is stuck: it just times out, and only if the kubelet's
timeout is short. So the probe server is a small `http.server` in its own thread,
and the loop beats a heartbeat (`Heartbeat.run`): `/healthz` fails, with the reason,
when the heartbeat is older than `stall_after` seconds, or when the operator has
ended. `/readyz` answers 200 once the controller has started (connected, and either
leading with its watches running, or standing by as a healthy non-leader).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from coalmine.kube.runtime.settings import Address, HealthSettings

__all__ = ["Health", "HealthServer"]


@dataclass
class Health:
    """What the probes report; written by the event loop, read by the probe thread."""

    settings: HealthSettings = field(default_factory=HealthSettings)
    beat_at: float = field(default_factory=time.monotonic)
    ready: bool = False
    """Started: the watches run (leader) or the replica stands by (non-leader)."""
    failure: str = ""
    """Why the controller cannot go on (the operator ended); empty while it is fine."""

    async def run(self) -> None:
        """Beat every `settings.heartbeat` seconds, for as long as the loop runs."""
        while True:
            self.beat_at = time.monotonic()
            await asyncio.sleep(self.settings.heartbeat)

    def liveness(self) -> tuple[bool, str]:
        if self.failure:
            return False, self.failure
        silent = time.monotonic() - self.beat_at
        if silent > self.settings.stall_after:
            return False, f"the event loop has not run for {silent:.1f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if not self.ready:
            return False, "starting"
        return self.liveness()


class _Handler(BaseHTTPRequestHandler):
    health: ClassVar[Health]

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/healthz":
            ok, reason = self.health.liveness()
        elif self.path.split("?")[0] == "/readyz":
            ok, reason = self.health.readiness()
        else:
            self._answer(404, "not found; try /healthz or /readyz")
            return
        self._answer(200 if ok else 503, reason)

    def _answer(self, status: int, text: str) -> None:
        body = f"{text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would drown the log."""


class HealthServer:
    """The probe endpoints on their own thread."""

    def __init__(self, health: Health, address: Address) -> None:
        handler = type("HealthHandler", (_Handler,), {"health": health})
        self._server = ThreadingHTTPServer((address.host, address.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how soon `stop` is noticed
            name="coalmine-health",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
