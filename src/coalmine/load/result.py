"""What a load run did: counts, error kinds, exact latency percentiles, the rate achieved."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LatencySummary", "LoadResult", "percentile"]


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of values sorted ascending: an observed value, never a blend.

    `share` is in (0, 1]; p99 of 100 values is the 99th smallest.
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class LatencySummary:
    """Seconds from sending a request to having read its whole response."""

    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, ordered: Sequence[float]) -> LatencySummary:
        """Summary of latencies sorted ascending (at least one)."""
        return cls(
            p50=percentile(ordered, 0.50),
            p90=percentile(ordered, 0.90),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
            mean=math.fsum(ordered) / len(ordered),
        )


@dataclass(frozen=True)
class LoadResult:
    """The outcome of a load run, or of its part so far (a snapshot, a stopped run).

    Every request the schedule reached is exactly one of: dropped (the in-flight cap
    was reached), answered (counted in `statuses`), failed (counted in `errors`),
    abandoned (still out when the run was stopped or cancelled), or in flight (only
    in a snapshot of a running load).
    """

    target_rate: float
    """Requests per second the plan asked for."""
    sending_seconds: float
    """How long requests were being sent: the plan's duration unless stopped early."""
    elapsed_seconds: float
    """From the first request to the end, waiting for the last answers included."""
    sent: int
    dropped: int
    abandoned: int
    in_flight: int
    statuses: Mapping[int, int]
    """Answers by HTTP status code."""
    errors: Mapping[str, int]
    """Requests without an answer by kind: timeout, connection_refused, ... (see load.failures)."""
    latencies: tuple[float, ...]
    """Seconds, of every answered request, sorted; empty in a live progress snapshot."""
    stopped_early: bool

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        """Requests sent per second while sending: the rate actually offered."""
        return self.sent / self.sending_seconds if self.sending_seconds > 0 else 0.0

    @property
    def latency(self) -> LatencySummary | None:
        """Percentiles of answered requests; None when none was answered (or not recorded)."""
        return LatencySummary.of(self.latencies) if self.latencies else None

    def status_classes(self) -> dict[str, int]:
        """Answers by class: {"2xx": n, "5xx": m}, classes with answers only."""
        classes: dict[str, int] = {}
        for code, count in sorted(self.statuses.items()):
            key = f"{code // 100}xx"
            classes[key] = classes.get(key, 0) + count
        return classes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (latencies in milliseconds, without the raw values)."""
        latency = self.latency
        return {
            "target_rate": self.target_rate,
            "rate": round(self.rate, 3),
            "sending_seconds": round(self.sending_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "in_flight": self.in_flight,
            "stopped_early": self.stopped_early,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "errors": dict(sorted(self.errors.items())),
            "latency_ms": None
            if latency is None
            else {name: round(value * 1000, 3) for name, value in vars(latency).items()},
        }
