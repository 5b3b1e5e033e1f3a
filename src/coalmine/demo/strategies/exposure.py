"""What users saw of the faulty release: pure accounting over every request's outcome.

Times are seconds after the release was shipped, taken when the user had the answer
(or the failure). A request counts as failed when it got no answer or a 5xx answer,
whoever served it; the demo app names its version at the end of every answer, which
tells the faulty release's answers apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from coalmine.load import RequestOutcome

__all__ = ["Exposure", "Second", "Window", "version_of"]

_VERSION = re.compile(rb"version (\S+)\s*$")


def version_of(body: bytes) -> str | None:
    """The release that answered, from the demo app's `... version 0.0.2` ending."""
    found = _VERSION.search(body)
    return found.group(1).decode(errors="replace") if found else None


@dataclass(frozen=True)
class Window:
    """From the first to the last of some requests, seconds after shipping."""

    first: float
    last: float

    @property
    def seconds(self) -> float:
        return self.last - self.first

    @classmethod
    def around(cls, times: list[float]) -> Window | None:
        return cls(min(times), max(times)) if times else None


@dataclass(frozen=True)
class Second:
    """The requests that ended in one second, [at, at + 1) after shipping."""

    at: int
    requests: int
    bad_answers: int
    failed: int

    @property
    def bad_share(self) -> float:
        """Percent of the second's requests the faulty release answered."""
        return 100 * self.bad_answers / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Exposure:
    requests: int
    """Requests that ended, before and after shipping."""
    failed: int
    """No answer, or a 5xx answer."""
    bad_answers: int
    """Answers (any status) from the faulty release."""
    failing: Window | None
    """First to last failed request."""
    bad_serving: Window | None
    """First to last answer from the faulty release: how long it served traffic."""
    bad_after: int
    """Requests sent after the rollback was complete that the faulty release still answered."""
    timeline: tuple[Second, ...] = ()
    """Second by second, from the first request to the last (none missing)."""

    @classmethod
    def of(
        cls,
        outcomes: Iterable[RequestOutcome],
        *,
        shipped: float,
        bad_version: str,
        undone: float | None = None,
    ) -> Exposure:
        """Account `outcomes` (monotonic times) against a release shipped at `shipped`
        and, when given, completely undone at `undone`."""
        requests, failed, bad, late = 0, [], [], 0
        ended: list[float] = []
        for outcome in outcomes:
            requests += 1
            at = outcome.ended - shipped
            ended.append(at)
            if outcome.failed:
                failed.append(at)
            if outcome.status is not None and version_of(outcome.body) == bad_version:
                bad.append(at)
                if undone is not None and outcome.sent > undone:
                    late += 1
        return cls(
            requests=requests,
            failed=len(failed),
            bad_answers=len(bad),
            failing=Window.around(failed),
            bad_serving=Window.around(bad),
            bad_after=late,
            timeline=_timeline(ended, failed, bad),
        )


def _timeline(ended: list[float], failed: list[float], bad: list[float]) -> tuple[Second, ...]:
    if not ended:
        return ()
    counts = [Counter(math.floor(at) for at in times) for times in (ended, bad, failed)]
    first, last = math.floor(min(ended)), math.floor(max(ended))
    return tuple(Second(at, *(count[at] for count in counts)) for at in range(first, last + 1))
