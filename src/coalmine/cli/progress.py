"""How `coalmine wait` (and `deploy --wait`) shows progress: three reports, one interface.

- `LiveReport` (text on a terminal): one live line (rich) with the phase, the canary
  weight, failed checks against the threshold and the last value of each metric
  against its range; events print above it.
- `PlainReport` (text elsewhere, such as a CI log): one line per change, one per event.
- `JsonReport` (`-o json`): one JSON object per change and per event, then a final
  `result` object; the schema is docs/schemas/wait-output.schema.json.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from coalmine.cli.verdict import Verdict, short
from coalmine.targets.base import CanaryView, CheckView, EventView

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["JsonReport", "LiveReport", "PlainReport", "Report", "Snapshot", "Summary", "report"]


@dataclass(frozen=True)
class Snapshot:
    """What the wait shows about the canary at one read."""

    namespace: str
    canary: str
    revision: str
    phase: str | None
    analysed_revision: str | None
    suspended: bool
    weight: int
    failed_checks: int
    threshold: int
    checks: tuple[CheckView, ...]

    @classmethod
    def of(cls, canary: CanaryView, revision: str) -> Snapshot:
        return cls(
            namespace=canary.namespace,
            canary=canary.name,
            revision=revision,
            phase=canary.phase,
            analysed_revision=canary.last_applied,
            suspended=canary.suspended,
            weight=canary.weight,
            failed_checks=canary.failed_checks,
            threshold=canary.threshold,
            checks=tuple(canary.checks),
        )

    @property
    def analysing(self) -> bool:
        """The status is about the revision waited for (not one before it)."""
        return self.analysed_revision == self.revision

    def line(self) -> str:
        if not self.analysing:
            return (
                f"{self.canary}: waiting for revision {short(self.revision)} to be picked up"
                f" ({self.phase or 'not initialized'} on revision {short(self.analysed_revision)})"
            )
        paused = "  PAUSED" if self.suspended else ""
        checks = "".join(f"  {_check(c)}" for c in self.checks)
        return (
            f"{self.canary}: {self.phase} weight {self.weight}%"
            f" failed checks {self.failed_checks}/{self.threshold}{paused}{checks}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "progress",
            "time": _now(),
            "namespace": self.namespace,
            "canary": self.canary,
            "revision": self.revision,
            "analysing": self.analysing,
            "phase": self.phase,
            "suspended": self.suspended,
            "canaryWeight": self.weight,
            "failedChecks": self.failed_checks,
            "threshold": self.threshold,
            "checks": [_check_json(c) for c in self.checks],
        }


@dataclass(frozen=True)
class Summary:
    namespace: str
    canary: str
    revision: str
    verdict: Verdict
    phase: str | None
    elapsed_seconds: float

    def line(self) -> str:
        return (
            f"{self.canary}: {self.verdict.outcome} (exit {self.verdict.exit_code}):"
            f" {self.verdict.reason}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "result",
            "time": _now(),
            "namespace": self.namespace,
            "canary": self.canary,
            "revision": self.revision,
            "outcome": str(self.verdict.outcome),
            "exitCode": self.verdict.exit_code,
            "reason": self.verdict.reason,
            "phase": self.phase,
            "elapsedSeconds": round(self.elapsed_seconds, 3),
        }


class Report(Protocol):
    def progress(self, snapshot: Snapshot) -> None:
        """Called at every read; a report shows it when something changed."""
        ...

    def event(self, namespace: str, canary: str, event: EventView) -> None: ...

    def result(self, summary: Summary) -> None: ...

    def close(self) -> None: ...


def report(output: str, stream: TextIO | None = None) -> Report:
    """`json`, or text: live on a terminal, plain lines elsewhere."""
    out = stream or sys.stdout
    if output == "json":
        return JsonReport(out)
    if out.isatty():
        return LiveReport()
    return PlainReport(out)


class PlainReport:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last: Snapshot | None = None

    def progress(self, snapshot: Snapshot) -> None:
        if snapshot != self.last:
            self.last = snapshot
            self._print(f"{_clock()} {snapshot.line()}")

    def event(self, namespace: str, canary: str, event: EventView) -> None:
        marker = "warning" if event.type == "Warning" else "event"
        self._print(f"{_clock()}   {marker}: {event.message}")

    def result(self, summary: Summary) -> None:
        self._print(summary.line())

    def close(self) -> None:
        self.out.flush()

    def _print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


class JsonReport:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last: Snapshot | None = None

    def progress(self, snapshot: Snapshot) -> None:
        if snapshot != self.last:
            self.last = snapshot
            self._print(snapshot.as_json())

    def event(self, namespace: str, canary: str, event: EventView) -> None:
        self._print(
            {
                "type": "event",
                "time": event.time.astimezone(UTC).isoformat(timespec="seconds"),
                "namespace": namespace,
                "canary": canary,
                "eventType": event.type,
                "reason": event.reason,
                "message": event.message,
            }
        )

    def result(self, summary: Summary) -> None:
        self._print(summary.as_json())

    def close(self) -> None:
        self.out.flush()

    def _print(self, document: dict[str, Any]) -> None:
        self.out.write(json.dumps(document) + "\n")
        self.out.flush()


class LiveReport:
    """A rich Live line, redrawn at every read; events and the result print above it."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._text = Text
        self.console = console or Console()
        self.live = Live(Text(""), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def progress(self, snapshot: Snapshot) -> None:
        style = "yellow" if snapshot.suspended or not snapshot.analysing else "cyan"
        self.live.update(self._text(f"{_clock()} {snapshot.line()}", style=style))

    def event(self, namespace: str, canary: str, event: EventView) -> None:
        style = "red" if event.type == "Warning" else "dim"
        self.live.console.print(self._text(f"{_clock()}   {event.message}", style=style))

    def result(self, summary: Summary) -> None:
        self.live.stop()
        style = "green" if summary.verdict.exit_code == 0 else "red"
        self.console.print(self._text(summary.line(), style=f"bold {style}"))

    def close(self) -> None:
        self.live.stop()


def _check(check: CheckView) -> str:
    value = f"{check.value:.2f}" if check.value is not None else "no data"
    verdict = "" if check.passed else " FAILED"
    return f"{check.name} {value} ({check.range_text()}){verdict}"


def _check_json(check: CheckView) -> dict[str, Any]:
    finite = check.value is not None and math.isfinite(check.value)
    return {
        "name": check.name,
        "value": check.value if finite else None,
        "min": check.min,
        "max": check.max,
        "passed": check.passed,
        "reason": check.reason,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S")
