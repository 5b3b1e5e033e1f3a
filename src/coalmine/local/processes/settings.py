"""Timings of the process layer, with Kubernetes-like defaults; tests shorten them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProcessSettings"]


@dataclass(frozen=True)
class ProcessSettings:
    """How fast the supervisor acts. `None` means "what the manifest says"."""

    probe_period_seconds: float | None = None
    """Overrides every probe's periodSeconds (the manifest allows whole seconds only)."""
    probe_timeout_seconds: float | None = None
    """Overrides every probe's timeoutSeconds."""
    termination_grace_seconds: float | None = None
    """Overrides terminationGracePeriodSeconds: SIGTERM, then SIGKILL after this long."""
    tcp_check_period_seconds: float = 0.2
    """Without a readiness probe: how often to try the mapped port until it accepts."""
    drain_seconds: float = 1.0
    """A replica leaves the endpoints this long before it gets SIGTERM, so the data plane
    stops sending it requests first (what a Kubernetes preStop sleep is used for)."""
    unroute_timeout_seconds: float = 10.0
    """Longest wait for the data plane to confirm it stopped routing to a replica that
    is stopping (then the replica is stopped anyway)."""
    backoff_initial_seconds: float = 1.0
    """First restart delay after a replica exits; it doubles with each exit in a row."""
    backoff_max_seconds: float = 60.0
    """Longest restart delay (CrashLoopBackOff's cap)."""
    backoff_reset_seconds: float = 120.0
    """A replica that ran this long before exiting restarts after the initial delay again."""
    kill_wait_seconds: float = 5.0
    """How long to wait for a process to vanish after SIGKILL before reporting it."""
