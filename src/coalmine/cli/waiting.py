"""Waiting for the verdict on one revision: read about once a second until it is over.

Shared by `coalmine wait` and `coalmine deploy --wait`. Every wait has its deadline.
A read that fails because the runtime or the cluster does not answer (a restarting
`coalmine up`, an API server answering 5xx or 429, a timeout, a dropped connection) is
retried for `read_grace` seconds, at the start of the wait as during it (`riding`); past
that, or when the canary is gone, the wait ends as unreadable (exit 3). A failed read
never ends the wait before its grace: a pipeline does not fail because the control plane
blinked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from coalmine.cli.progress import Report, Snapshot, Summary
from coalmine.cli.verdict import Outcome, Verdict, judge, short
from coalmine.errors import CoalmineError, NotFound, Unavailable
from coalmine.targets.base import CanaryView, Target

__all__ = ["READ_GRACE", "WaitSettings", "riding", "unreadable", "wait_for_verdict"]

T = TypeVar("T")

READ_GRACE = 60.0
"""Seconds of failed reads a wait rides through: a `coalmine up` restarting (measured at
4-7 s), an API server rolling, a load balancer failing over."""


@dataclass(frozen=True)
class WaitSettings:
    timeout: float
    """Seconds before the wait ends as timed out (exit 2)."""
    poll: float = 1.0
    """Seconds between reads."""
    read_grace: float = READ_GRACE
    """Seconds of failed reads tolerated before the wait ends as unreadable (exit 3);
    never more than the time left before `timeout`."""


async def riding(call: Callable[[], Awaitable[T]], grace: float) -> T:
    """`call()`, retried with back-off (0.25 s doubling to 2 s) while it raises
    Unavailable, for up to `grace` seconds; then the last Unavailable is raised."""
    deadline = time.monotonic() + grace
    delay = 0.25
    while True:
        try:
            return await call()
        except Unavailable:
            if time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


@dataclass
class _Progress:
    seen_events: set[str]
    seen_analysed: bool = False
    failing_since: float | None = None
    last: CanaryView | None = None


async def wait_for_verdict(
    target: Target,
    canary: CanaryView,
    revision: str,
    settings: WaitSettings,
    report: Report,
) -> int:
    """Follow `canary` until the verdict on `revision`; report it; return the exit code."""
    started = time.monotonic()
    deadline = started + settings.timeout
    grace = min(settings.read_grace, settings.timeout)
    try:
        events = await riding(lambda: target.events(canary.namespace, canary.name), grace)
    except Unavailable as error:
        gone = unreadable(f"cannot read the events of canary {canary.name}: {error}")
        report.result(Summary(canary.namespace, canary.name, revision, gone, None, 0.0))
        report.close()
        return gone.exit_code
    state = _Progress(seen_events={e.key for e in events}, last=canary)
    try:
        while True:
            verdict = await _read(target, canary, revision, settings, state, report)
            if verdict is None and time.monotonic() >= deadline:
                verdict = Verdict(
                    Outcome.TIMED_OUT,
                    f"no verdict on revision {short(revision)} within {settings.timeout:g}s",
                )
            if verdict is not None:
                summary = Summary(
                    canary.namespace,
                    canary.name,
                    revision,
                    verdict,
                    state.last.phase if state.last else None,
                    time.monotonic() - started,
                )
                report.result(summary)
                return verdict.exit_code
            await asyncio.sleep(max(0.0, min(settings.poll, deadline - time.monotonic())))
    finally:
        report.close()


async def _read(
    target: Target,
    canary: CanaryView,
    revision: str,
    settings: WaitSettings,
    state: _Progress,
    report: Report,
) -> Verdict | None:
    """One read: report what changed; a verdict when the wait is over."""
    try:
        current = await target.canary(canary.namespace, canary.name)
        events = await target.events(canary.namespace, canary.name)
    except NotFound:
        return unreadable(f"canary {canary.name} in {canary.namespace} was deleted")
    except Unavailable as error:
        now = time.monotonic()
        state.failing_since = state.failing_since or now
        if now - state.failing_since > settings.read_grace:
            return unreadable(
                f"cannot read canary {canary.name} for {settings.read_grace:g}s: {error}"
            )
        return None
    state.failing_since = None
    state.last = current
    report.progress(Snapshot.of(current, revision))
    for event in events:
        if event.key not in state.seen_events:
            state.seen_events.add(event.key)
            report.event(canary.namespace, canary.name, event)
    verdict = judge(current, revision, seen_analysed=state.seen_analysed)
    state.seen_analysed = state.seen_analysed or current.last_applied == revision
    return verdict


def unreadable(reason: str) -> Verdict:
    return Verdict(Outcome.UNREADABLE, reason)


def unreadable_error(error: CoalmineError) -> Verdict:
    """A failure to read before the wait began (exit 3 whatever the error's own code)."""
    return unreadable(str(error))
