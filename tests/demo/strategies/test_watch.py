"""Following a run: the first failure users saw after shipping, and bounded waits."""

from __future__ import annotations

import pytest

from coalmine.demo.strategies.watch import Outcomes, until
from coalmine.errors import CoalmineError
from coalmine.load import RequestOutcome


def outcome(sent: float, status: int | None) -> RequestOutcome:
    return RequestOutcome(sent, sent + 0.2, status, None if status else "timeout")


def test_the_first_failure_counts_only_after_shipping() -> None:
    outcomes = Outcomes()
    outcomes.add(outcome(1.0, 500))
    assert outcomes.first_failure is None  # not shipped yet
    outcomes.shipped = 2.0
    outcomes.add(outcome(1.5, None))  # sent before shipping, ended after
    outcomes.add(outcome(2.5, 200))
    outcomes.add(outcome(3.0, 502))
    outcomes.add(outcome(4.0, 500))
    assert outcomes.first_failure == pytest.approx(3.2)
    assert outcomes.failed_before_shipping() == 2
    assert len(outcomes.all) == 5


async def test_until_returns_once_true_and_names_what_it_gave_up_on() -> None:
    calls = iter([False, False, True])
    await until(lambda: next(calls), 5.0, "the third look")
    with pytest.raises(CoalmineError, match=r"gave up after 0\.2s waiting for godot"):
        await until(lambda: False, 0.2, "godot")
