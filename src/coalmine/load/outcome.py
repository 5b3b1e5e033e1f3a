"""One request as it happened, for callers that need more than the totals.

The totals of a LoadResult say how many requests failed; a comparison of rollouts
also needs *when* each one failed and which release answered it. A LoadGenerator
given `on_outcome` calls it once per request that ended (answered or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OnOutcome", "RequestOutcome"]


@dataclass(frozen=True)
class RequestOutcome:
    sent: float
    """When the request left (time.monotonic())."""
    ended: float
    """When its whole answer was read, or it failed (time.monotonic())."""
    status: int | None
    """The HTTP status; None when there was no answer."""
    error: str | None
    """Why there was no answer (a load.failures kind); None when answered."""
    body: bytes = b""
    """The answer's body (empty without an answer)."""

    @property
    def failed(self) -> bool:
        """What a user counts as failed: no answer, or a 5xx answer."""
        return self.status is None or self.status >= 500


OnOutcome = Callable[[RequestOutcome], None]
