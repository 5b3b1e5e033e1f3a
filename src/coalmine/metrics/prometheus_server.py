"""A Prometheus process of our own: for the tests, and for `coalmine up --prometheus`.

It runs the `prometheus` binary found on PATH (the Debian package) on 127.0.0.1, on a
free port, with a generated configuration that scrapes the given targets every second,
and a TSDB directory of its own. `start()` returns once `/-/ready` answers 200.

Measured with the Debian Prometheus 2.42 (benchmarks/prometheus_startup.py): ready in
about 0.05 s, but the first sample is queryable about 6 s after start (and again after
a restart), whatever the scrape interval: target discovery hands new targets to the
scrape loops at most every 5 s, and the first hand-over waits for that tick. Anything
that needs data must wait for it (`wait_for_samples`), not assume it.

Stopping keeps the data directory; `start()` again reuses the same port and data, so a
test can take Prometheus away and bring it back as an outage would. `close()` stops it
and removes what it created.

Synchronous on purpose: starting is a subprocess and a short poll. Async callers run
`await asyncio.to_thread(server.start)`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from coalmine.errors import NotFound, Unavailable

__all__ = ["PrometheusServer", "ScrapeTarget", "free_port"]

POLL_SECONDS = 0.05
LOG_TAIL_CHARS = 2000


@dataclass(frozen=True)
class ScrapeTarget:
    """One endpoint Prometheus scrapes."""

    job: str
    """The `job` label its series get."""
    address: str
    """host:port, for example 127.0.0.1:9901."""
    metrics_path: str = "/metrics"
    """Envoy serves its metrics at /stats/prometheus."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it; another process may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """One Prometheus process with a generated config and a data directory of its own."""

    def __init__(
        self,
        targets: Sequence[ScrapeTarget],
        *,
        scrape_interval: float = 1.0,
        data_dir: Path | None = None,
        port: int = 0,
        binary: str | None = None,
        ready_timeout: float = 30.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.targets = tuple(targets)
        self.scrape_interval = scrape_interval
        self.host = host
        self.ready_timeout = ready_timeout
        self._binary = binary
        self._fixed_port = port != 0
        self.port = port
        self._workdir = Path(tempfile.mkdtemp(prefix="coalmine-prometheus-"))
        self.data_dir = data_dir or self._workdir / "data"
        """The TSDB; one given by the caller is left in place by close()."""
        self._process: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        """time.monotonic() of the last start, for measuring the first-scrape delay."""

    # Where it is

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "prometheus.log"

    @property
    def config_path(self) -> Path:
        return self._workdir / "prometheus.yml"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process started last (None before the first start or after stop())."""
        return self._process.pid if self._process is not None else None

    @property
    def exit_code(self) -> int | None:
        """How the last process ended, once it has ended on its own (None while it runs)."""
        return self._process.poll() if self._process is not None else None

    # Life cycle

    def start(self) -> None:
        """Start and wait until ready; a second start after stop() reuses port and data."""
        if self.running:
            return
        binary = self._find_binary()
        self.config_path.write_text(self.config_text())
        attempts = 1 if self._fixed_port or self.port else 3
        for attempt in range(attempts):
            if not self.port or attempt > 0:
                self.port = free_port(self.host)
            if self._launch(binary):
                self._fixed_port = True  # later starts come back on this port
                return
        raise Unavailable(f"prometheus could not bind a free port: {self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; the data directory stays."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def close(self) -> None:
        """Stop and remove the config, the log and (when it made it) the data directory."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Waiting for data

    def wait_for_samples(self, query: str, *, minimum: float = 1, timeout: float = 30.0) -> float:
        """Poll an instant query until its single value reaches `minimum`; return that value.

        For example `count_over_time(up{job="envoy"}[5s])` >= 5 means five scrapes landed
        in the last five seconds, so a rate() over 5s has a full window.
        """
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            value, last = self._instant_value(query)
            if value is not None and value >= minimum:
                return value
            time.sleep(0.2)
        raise Unavailable(f"{query} did not reach {minimum:g} within {timeout:g}s (last: {last})")

    # Details

    def config_text(self) -> str:
        """The generated prometheus.yml (JSON is YAML)."""
        interval = f"{int(self.scrape_interval * 1000)}ms"
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval},
            "scrape_configs": [
                {
                    "job_name": target.job,
                    "metrics_path": target.metrics_path,
                    "static_configs": [{"targets": [target.address]}],
                }
                for target in self.targets
            ],
        }
        return json.dumps(config, indent=2)

    def _find_binary(self) -> str:
        found = self._binary or shutil.which("prometheus")
        if not found or not os.access(found, os.X_OK):
            raise NotFound(
                "prometheus not found on PATH: install the Debian package prometheus "
                "(scripts/setup-system does)"
            )
        return found

    def _launch(self, binary: str) -> bool:
        """Start the process; True once ready, False if it lost the race for its port."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=1d",
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started_at = time.monotonic()
        return self._wait_ready()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                self._process = None
                if "address already in use" in self._log_tail() and not self._fixed_port:
                    return False
                raise Unavailable(
                    f"prometheus exited with {process.returncode}: {self._log_tail()}"
                )
            if self._ready():
                return True
            time.sleep(POLL_SECONDS)
        self.stop()
        raise Unavailable(
            f"prometheus at {self.url} not ready within {self.ready_timeout:g}s: {self._log_tail()}"
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:  # noqa: S310
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def _instant_value(self, query: str) -> tuple[float | None, str]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
                body = json.load(answer)
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, str(error)
        result = body.get("data", {}).get("result", [])
        if len(result) != 1:
            return None, f"{len(result)} series"
        return float(result[0]["value"][1]), str(result[0]["value"][1])

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"
