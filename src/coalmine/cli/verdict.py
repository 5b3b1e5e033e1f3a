"""When the wait for a revision is over, and what its answer is. Pure: no I/O.

A canary's phase alone says nothing about a given revision: `Succeeded` may be left
over from the release before. A verdict counts only for the revision it was reached
on, which is `status.lastAppliedSpec` (the revision analysed last):

- lastAppliedSpec is the revision and the phase is Succeeded: promoted.
- lastAppliedSpec is the revision and the phase is Initialized: promoted (the first
  revision becomes the primary without an analysis).
- lastAppliedSpec is the revision and the phase is Failed: rolled back.
- the revision is lastPromotedSpec but not lastAppliedSpec: promoted at once, nothing
  to analyse (the primary runs it already; deploying it again starts no canary).
- lastAppliedSpec was the revision while waiting and then became another one before a
  verdict: superseded (a newer release replaced it; it was not promoted).

Anything else is not over yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coalmine.targets.base import CanaryView, CheckView

__all__ = ["EXIT_CODES", "Outcome", "Verdict", "judge", "short"]


class Outcome(StrEnum):
    PROMOTED = "promoted"
    """The revision runs as the primary (exit 0)."""
    ROLLED_BACK = "rolled-back"
    """The revision failed its analysis or was aborted; traffic is on the primary (exit 1)."""
    SUPERSEDED = "superseded"
    """A newer revision replaced it before its verdict; it was not promoted (exit 1)."""
    TIMED_OUT = "timed-out"
    """No verdict before the deadline (exit 2)."""
    UNREADABLE = "unreadable"
    """The canary, the runtime or the cluster could not be read, or the canary is gone
    (exit 3)."""


EXIT_CODES = {
    Outcome.PROMOTED: 0,
    Outcome.ROLLED_BACK: 1,
    Outcome.SUPERSEDED: 1,
    Outcome.TIMED_OUT: 2,
    Outcome.UNREADABLE: 3,
}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def short(revision: str | None) -> str:
    return (revision or "none")[:8]


def judge(canary: CanaryView, revision: str, *, seen_analysed: bool) -> Verdict | None:
    """The verdict on `revision`, or None while there is none yet.

    `seen_analysed`: lastAppliedSpec was `revision` at some earlier read of this wait.
    """
    phase, applied = canary.phase, canary.last_applied
    if applied == revision:
        return _on_revision(canary, revision, phase)
    if revision == canary.last_promoted and phase not in (None, "Initializing"):
        return Verdict(
            Outcome.PROMOTED,
            f"revision {short(revision)} is the promoted one ({canary.target}-primary runs it);"
            " nothing to analyse",
        )
    if seen_analysed and applied is not None:
        return Verdict(
            Outcome.SUPERSEDED,
            f"revision {short(revision)} was replaced by {short(applied)} before its verdict",
        )
    return None


def _on_revision(canary: CanaryView, revision: str, phase: str | None) -> Verdict | None:
    if phase == "Succeeded":
        return Verdict(
            Outcome.PROMOTED,
            f"revision {short(revision)} promoted: {canary.target}-primary runs it",
        )
    if phase == "Initialized":
        return Verdict(
            Outcome.PROMOTED,
            f"revision {short(revision)} is the first one: it became {canary.target}-primary"
            " without an analysis",
        )
    if phase == "Failed":
        failed = [c for c in canary.checks if not c.passed]
        detail = f" ({', '.join(_failure(c) for c in failed)})" if failed else ""
        return Verdict(
            Outcome.ROLLED_BACK,
            f"revision {short(revision)} rolled back: failed checks {canary.failed_checks}/"
            f"{canary.threshold}{detail}; all traffic is on {canary.target}-primary",
        )
    return None


def _failure(check: CheckView) -> str:
    value = f"{check.value:.2f}" if check.value is not None else "no data"
    return f"{check.name} {value} not {check.range_text()}"
