"""The comparison table, and the ordering that decides the exit code."""

from __future__ import annotations

from dataclasses import replace

from coalmine.demo.strategies.exposure import Exposure, Window
from coalmine.demo.strategies.options import Strategy
from coalmine.demo.strategies.report import (
    StrategyRun,
    ordering_problems,
    problems,
    run_problem,
    table,
)


def run(strategy: Strategy, failed: int, problem: str | None = None) -> StrategyRun:
    exposure = Exposure(
        requests=1000 + failed,
        failed=failed,
        bad_answers=2 * failed,
        failing=Window(0.25, 10.0) if failed else None,
        bad_serving=Window(0.2, 10.05) if failed else None,
        bad_after=0,
    )
    return StrategyRun(
        strategy=strategy,
        exposure=exposure,
        found=f"found {strategy.value}",
        found_at=10.3,
        undone=f"undone {strategy.value}",
        undone_at=12.0 if failed else None,
        problem=problem,
    )


def test_the_table_has_a_row_per_strategy_then_how_each_was_found_and_undone() -> None:
    lines = table([run(Strategy.BIG_BANG, 253), run(Strategy.CANARY, 0)], "0.0.2")
    assert lines == [
        "strategy  failed  requests  failing for  answered by 0.0.2  0.0.2 served for"
        "  found at  undone at",
        "big-bang     253      1253         9.8s                506              9.9s"
        "    +10.3s     +12.0s",
        "canary         0      1000            -                  0                 -"
        "    +10.3s          -",
        "big-bang  found: found big-bang",
        "          undone: undone big-bang",
        "canary    found: found canary",
        "          undone: undone canary",
    ]


def test_the_ordering_holds_when_each_strategy_exposes_fewer_than_the_one_before() -> None:
    runs = [run(Strategy.CANARY, 35), run(Strategy.BIG_BANG, 253), run(Strategy.ROLLING, 85)]
    assert ordering_problems(runs) == []
    assert problems(runs) == []


def test_a_tie_or_a_reversal_is_named() -> None:
    runs = [run(Strategy.BIG_BANG, 80), run(Strategy.ROLLING, 85), run(Strategy.CANARY, 85)]
    assert ordering_problems(runs) == [
        "rolling let 85 requests fail and big-bang 80: expected rolling to expose fewer "
        "failed requests than big-bang",
        "canary let 85 requests fail and rolling 85: expected canary to expose fewer "
        "failed requests than rolling",
    ]


def test_a_subset_is_compared_among_itself_and_one_strategy_alone_has_no_ordering() -> None:
    assert ordering_problems([run(Strategy.BIG_BANG, 10), run(Strategy.CANARY, 30)]) == [
        "canary let 30 requests fail and big-bang 10: expected canary to expose fewer "
        "failed requests than big-bang"
    ]
    assert ordering_problems([run(Strategy.ROLLING, 10)]) == []


def test_a_run_that_went_wrong_fails_the_comparison_even_in_order() -> None:
    runs = [run(Strategy.BIG_BANG, 253), run(Strategy.CANARY, 3, "the canary ended Succeeded")]
    assert problems(runs) == ["canary: the canary ended Succeeded"]


def test_a_run_counts_only_when_users_saw_failures_from_the_faulty_release_alone() -> None:
    exposure = run(Strategy.ROLLING, 85).exposure
    assert run_problem(0, exposure, "0.0.2") is None
    assert run_problem(3, exposure, "0.0.2") == "3 requests failed before 0.0.2 was shipped"
    late = replace(exposure, bad_after=2)
    assert run_problem(0, late, "0.0.2") == (
        "0.0.2 still answered 2 requests sent after the rollback was complete"
    )
    unseen = replace(exposure, bad_answers=0)
    assert run_problem(0, unseen, "0.0.2") == "0.0.2 never got any traffic"
