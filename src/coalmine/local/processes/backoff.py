"""Restart delays for a replica whose process keeps exiting (Kubernetes' CrashLoopBackOff)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Exponential back-off: initial, doubled on each exit in a row, capped at `maximum`.

    A process that ran for at least `reset_after` seconds before it exited was healthy
    for a while: its next restart waits only `initial` again.
    """

    initial: float
    maximum: float
    reset_after: float
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self, ran_for: float) -> float:
        """The delay before the next start, given how long the process just ran."""
        if ran_for >= self.reset_after:
            self._next = self.initial
        delay = min(self._next, self.maximum)
        self._next = min(self._next * 2, self.maximum)
        return delay
