"""The wait loop against a scripted target: changes, events, deadlines, read errors.

The real runtime and cluster are in tests/e2e/test_pipeline_*; here each read returns
the next scripted answer, so that read errors and deletion happen exactly when wanted.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from coalmine.cli.progress import JsonReport, PlainReport
from coalmine.cli.waiting import WaitSettings, wait_for_verdict
from coalmine.errors import NotFound, Unavailable
from coalmine.targets.base import CanaryView, EventView
from tests.fixtures.cli import wait_lines

REV = "bbbbbbbbbbbbbbbb"
SPEC = {"targetRef": {"name": "go-demo-7"}, "analysis": {"threshold": 2}}
CHECKS = [
    {"name": "request-success-rate", "value": 100.0, "min": 99, "passed": True},
    {"name": "request-duration", "value": None, "max": 500, "passed": False, "reason": "no data"},
]


def view(**status: Any) -> CanaryView:
    return CanaryView("test", "go-demo-7", SPEC, status)


class Scripted:
    """A Target whose canary reads follow a script: a CanaryView, or an error to raise."""

    kind = "local"
    description = "scripted"
    namespace = "test"

    def __init__(self, script: list[CanaryView | Exception]) -> None:
        self.reads: Iterator[CanaryView | Exception] = iter(script)
        self.last: CanaryView | Exception = script[0]
        self.published: list[EventView] = []
        self.later: dict[int, EventView] = {}
        """Events published at the n-th read of the canary (1 is the first)."""
        self.count = 0

    async def canary(self, namespace: str, name: str) -> CanaryView:
        self.count += 1
        if self.count in self.later:
            self.published.append(self.later[self.count])
        self.last = next(self.reads, self.last)
        if isinstance(self.last, Exception):
            raise self.last
        return self.last

    async def events(self, namespace: str, name: str, limit: int = 50) -> list[EventView]:
        return list(self.published)


def progressing(weight: int) -> CanaryView:
    return view(phase="Progressing", lastAppliedSpec=REV, canaryWeight=weight, checks=CHECKS)


async def run(target: Scripted, output: str, **settings: float) -> tuple[int, str]:
    out = io.StringIO()
    report = JsonReport(out) if output == "json" else PlainReport(out)
    options = {"timeout": 30.0, "poll": 0.01, "read_grace": 0.5, **settings}
    code = await wait_for_verdict(
        target,  # type: ignore[arg-type]
        view(phase="Succeeded", lastAppliedSpec="a" * 16),
        REV,
        WaitSettings(**options),
        report,
    )
    return code, out.getvalue()


async def test_plain_output_is_one_line_per_change_then_the_verdict() -> None:
    script: list[CanaryView | Exception] = [
        view(phase="Succeeded", lastAppliedSpec="a" * 16),
        view(phase="Succeeded", lastAppliedSpec="a" * 16),
        progressing(0),
        progressing(20),
        progressing(20),
        view(phase="Succeeded", lastAppliedSpec=REV, lastPromotedSpec=REV),
    ]
    code, text = await run(Scripted(script), "text")
    lines = [line.split(" ", 1)[1] for line in text.splitlines()[:-1]]
    assert code == 0
    assert lines == [
        "go-demo-7: waiting for revision bbbbbbbb to be picked up (Succeeded on revision aaaaaaaa)",
        "go-demo-7: Progressing weight 0% failed checks 0/2  request-success-rate 100.00 (>= 99)"
        "  request-duration no data (<= 500) FAILED",
        "go-demo-7: Progressing weight 20% failed checks 0/2  request-success-rate 100.00 (>= 99)"
        "  request-duration no data (<= 500) FAILED",
        "go-demo-7: Succeeded weight 0% failed checks 0/2",
    ]
    assert text.splitlines()[-1] == (
        "go-demo-7: promoted (exit 0): revision bbbbbbbb promoted: go-demo-7-primary runs it"
    )


async def test_json_output_follows_the_schema_and_ends_with_the_result() -> None:
    target = Scripted([progressing(20), view(phase="Failed", lastAppliedSpec=REV, failedChecks=2)])
    target.published = [
        EventView("1", datetime.now(UTC), "Warning", "Synced", "Halt advancement go-demo-7.test")
    ]
    code, text = await run(target, "json")
    documents = wait_lines(text)
    assert code == 1
    assert [d["type"] for d in documents] == ["progress", "progress", "result"]
    assert documents[0]["checks"][1] == {
        "name": "request-duration",
        "value": None,
        "min": None,
        "max": 500,
        "passed": False,
        "reason": "no data",
    }
    assert documents[-1]["outcome"] == "rolled-back"


async def test_only_events_recorded_after_the_wait_began_are_shown() -> None:
    target = Scripted([progressing(0), progressing(20), view(phase="Failed", lastAppliedSpec=REV)])
    target.published = [EventView("1", datetime.now(UTC), "Normal", "Synced", "Initialized")]
    target.later = {2: EventView("2", datetime.now(UTC), "Normal", "Synced", "Advance 20")}
    code, text = await run(target, "json")
    events = [d["message"] for d in wait_lines(text) if d["type"] == "event"]
    assert code == 1
    assert events == ["Advance 20"]


async def test_no_verdict_before_the_deadline_is_timed_out() -> None:
    code, text = await run(Scripted([progressing(20)]), "json", timeout=0.1)
    result = wait_lines(text)[-1]
    assert code == 2
    assert result["outcome"] == "timed-out"
    assert result["reason"] == "no verdict on revision bbbbbbbb within 0.1s"


async def test_transient_read_errors_are_tolerated_for_the_grace_period() -> None:
    blip = Unavailable("connection refused")
    script: list[CanaryView | Exception] = [progressing(20), blip, blip, progressing(40)]
    script.append(view(phase="Succeeded", lastAppliedSpec=REV, lastPromotedSpec=REV))
    code, _ = await run(Scripted(script), "json", read_grace=5.0)
    assert code == 0


async def test_read_errors_past_the_grace_period_are_unreadable() -> None:
    code, text = await run(Scripted([progressing(20), Unavailable("gone")]), "json")
    result = wait_lines(text)[-1]
    assert code == 3
    assert result["outcome"] == "unreadable"
    assert result["reason"] == "cannot read canary go-demo-7 for 0.5s: gone"


async def test_a_canary_deleted_while_waiting_is_unreadable_at_once() -> None:
    code, text = await run(
        Scripted([progressing(20), NotFound("canary go-demo-7 not found")]), "json"
    )
    assert code == 3
    assert wait_lines(text)[-1]["reason"] == "canary go-demo-7 in test was deleted"


async def test_on_a_terminal_a_live_line_ends_in_the_verdict() -> None:
    from rich.console import Console

    from coalmine.cli.progress import LiveReport

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    target = Scripted([progressing(20), view(phase="Failed", lastAppliedSpec=REV)])
    target.later = {2: EventView("2", datetime.now(UTC), "Warning", "Synced", "Rolling back")}
    code = await wait_for_verdict(
        target,  # type: ignore[arg-type]
        view(),
        REV,
        WaitSettings(timeout=30, poll=0.01),
        LiveReport(console),
    )
    text = screen.getvalue()
    assert code == 1
    assert "Rolling back" in text
    assert "go-demo-7: rolled-back (exit 1): revision bbbbbbbb rolled back" in text


class Revisions(Scripted):
    """A Scripted target whose first reads, events and revision included, fail for a while."""

    def __init__(self, script: list[CanaryView | Exception], failing: int) -> None:
        super().__init__(script)
        self.failing = failing

    def _blip(self) -> None:
        if self.failing > 0:
            self.failing -= 1
            raise Unavailable("the API server answered 503")

    async def events(self, namespace: str, name: str, limit: int = 50) -> list[EventView]:
        self._blip()
        return await super().events(namespace, name, limit)

    async def revision(self, namespace: str, deployment: str) -> str:
        self._blip()
        return REV


async def test_the_first_reads_ride_through_a_blip() -> None:
    """A wait started while the runtime restarts or the API server fails: the canary,
    the revision and the events are each retried, not given up at once."""
    from coalmine.cli.wait import wait_on

    blip = Unavailable("no coalmine up is running")
    done = view(phase="Succeeded", lastAppliedSpec=REV, lastPromotedSpec=REV)
    target = Revisions([blip, blip, progressing(20), done], failing=4)
    out = io.StringIO()
    settings = WaitSettings(timeout=30.0, poll=0.01, read_grace=10.0)
    code = await wait_on(target, "go-demo-7", None, settings, JsonReport(out))  # type: ignore[arg-type]
    assert code == 0, out.getvalue()
    assert target.failing == 0


async def test_first_reads_failing_past_the_grace_are_unreadable() -> None:
    from coalmine.cli.wait import wait_on

    target = Revisions([Unavailable("no coalmine up is running")], failing=0)
    out = io.StringIO()
    settings = WaitSettings(timeout=30.0, poll=0.01, read_grace=0.6)
    code = await wait_on(target, "go-demo-7", None, settings, JsonReport(out))  # type: ignore[arg-type]
    assert code == 3
    assert wait_lines(out.getvalue())[-1]["reason"] == "no coalmine up is running"
