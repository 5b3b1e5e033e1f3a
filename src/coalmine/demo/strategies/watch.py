"""Following a run as it happens: every request's outcome, and bounded waits on the runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from coalmine.errors import CoalmineError
from coalmine.load import RequestOutcome

__all__ = ["Outcomes", "until"]

POLL = 0.1
"""Seconds between looks at the runtime while waiting."""


class Outcomes:
    """Every request's outcome, and when users first saw a failure after shipping."""

    def __init__(self) -> None:
        self.all: list[RequestOutcome] = []
        self.shipped: float | None = None
        self.first_failure: float | None = None
        """When (monotonic) the first request failed after shipping."""

    def add(self, outcome: RequestOutcome) -> None:
        self.all.append(outcome)
        shipped = self.shipped
        after_shipping = shipped is not None and outcome.sent >= shipped
        if outcome.failed and after_shipping and self.first_failure is None:
            self.first_failure = outcome.ended

    def failed_before_shipping(self) -> int:
        shipped = self.shipped if self.shipped is not None else time.monotonic()
        return sum(o.failed and o.sent < shipped for o in self.all)


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Return once `condition()` holds; CoalmineError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise CoalmineError(f"gave up after {within:g}s waiting for {what}")
        await asyncio.sleep(POLL)
