"""When a wait is over: only a verdict on the revision waited for counts."""

from __future__ import annotations

from typing import Any

import pytest

from coalmine.cli.verdict import Outcome, judge
from coalmine.targets.base import CanaryView

OLD, NEW = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"


def canary(**status: Any) -> CanaryView:
    spec = {"targetRef": {"name": "go-demo-7"}, "analysis": {"threshold": 2}}
    return CanaryView("ns", "go-demo-7", spec, status)


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_verdict_left_over_from_the_revision_before_never_counts(phase: str) -> None:
    stale = canary(phase=phase, lastAppliedSpec=OLD, lastPromotedSpec=OLD)
    assert judge(stale, NEW, seen_analysed=False) is None


def test_success_on_the_revision_is_promoted() -> None:
    verdict = judge(
        canary(phase="Succeeded", lastAppliedSpec=NEW, lastPromotedSpec=NEW),
        NEW,
        seen_analysed=True,
    )
    assert verdict is not None
    assert verdict.outcome == Outcome.PROMOTED
    assert verdict.exit_code == 0
    assert verdict.reason == "revision bbbbbbbb promoted: go-demo-7-primary runs it"


def test_the_first_revision_counts_as_promoted_once_initialized() -> None:
    assert judge(canary(phase="Initializing"), NEW, seen_analysed=False) is None
    verdict = judge(
        canary(phase="Initialized", lastAppliedSpec=NEW, lastPromotedSpec=NEW),
        NEW,
        seen_analysed=False,
    )
    assert verdict is not None
    assert verdict.outcome == Outcome.PROMOTED
    assert "first one" in verdict.reason


def test_failure_on_the_revision_is_rolled_back_and_names_the_failed_checks() -> None:
    failed = canary(
        phase="Failed",
        lastAppliedSpec=NEW,
        lastPromotedSpec=OLD,
        failedChecks=2,
        checks=[
            {"name": "request-success-rate", "value": 80.0, "min": 99, "passed": False},
            {"name": "request-duration", "value": 12.0, "max": 1000, "passed": True},
        ],
    )
    verdict = judge(failed, NEW, seen_analysed=True)
    assert verdict is not None
    assert (verdict.outcome, verdict.exit_code) == (Outcome.ROLLED_BACK, 1)
    assert verdict.reason == (
        "revision bbbbbbbb rolled back: failed checks 2/2 (request-success-rate 80.00 not >= 99);"
        " all traffic is on go-demo-7-primary"
    )


@pytest.mark.parametrize("phase", ["Progressing", "WaitingPromotion", "Promoting", "Finalising"])
def test_an_analysis_under_way_is_not_over(phase: str) -> None:
    assert judge(canary(phase=phase, lastAppliedSpec=NEW), NEW, seen_analysed=True) is None


def test_the_promoted_revision_has_nothing_to_analyse() -> None:
    back = canary(phase="Failed", lastAppliedSpec=NEW, lastPromotedSpec=OLD)
    verdict = judge(back, OLD, seen_analysed=False)
    assert verdict is not None
    assert verdict.outcome == Outcome.PROMOTED
    assert "nothing to analyse" in verdict.reason


def test_a_revision_replaced_before_its_verdict_is_superseded() -> None:
    newer = canary(phase="Progressing", lastAppliedSpec="c" * 16, lastPromotedSpec=OLD)
    assert judge(newer, NEW, seen_analysed=False) is None
    verdict = judge(newer, NEW, seen_analysed=True)
    assert verdict is not None
    assert (verdict.outcome, verdict.exit_code) == (Outcome.SUPERSEDED, 1)
