"""The comparison: one row per strategy, how each bad release was found and undone, and
whether the measured ordering holds (canary < rolling < big-bang in failed requests)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from coalmine.demo.strategies.exposure import Exposure, Window
from coalmine.demo.strategies.options import Strategy

__all__ = ["StrategyRun", "ordering_problems", "problems", "run_problem", "table"]


@dataclass(frozen=True)
class StrategyRun:
    strategy: Strategy
    exposure: Exposure
    found: str
    """How the faulty release was found."""
    found_at: float | None
    """When the rollback began, seconds after shipping."""
    undone: str
    """How it was undone."""
    undone_at: float | None
    """When the faulty release no longer got traffic, seconds after shipping."""
    problem: str | None = None
    """What went wrong with this run itself (the release was never undone, ...)."""


HEADER = ("strategy", "failed", "requests", "failing for", "bad answers", "bad served for")
HEADER_TIMES = ("found at", "undone at")


def table(runs: Sequence[StrategyRun], bad_version: str) -> list[str]:
    """The comparison as aligned text lines, then how each was found and undone."""
    header = (*HEADER[:4], f"answered by {bad_version}", f"{bad_version} served for", *HEADER_TIMES)
    rows = [header] + [
        (
            run.strategy.value,
            str(run.exposure.failed),
            str(run.exposure.requests),
            _span(run.exposure.failing),
            str(run.exposure.bad_answers),
            _span(run.exposure.bad_serving),
            _at(run.found_at),
            _at(run.undone_at),
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    name_width = widths[0]
    for run in runs:
        lines.append(f"{run.strategy.value:<{name_width}}  found: {run.found}")
        lines.append(f"{'':<{name_width}}  undone: {run.undone}")
    return lines


def problems(runs: Sequence[StrategyRun]) -> list[str]:
    """Everything that makes the comparison fail: runs that went wrong, then the ordering."""
    found = [f"{run.strategy.value}: {run.problem}" for run in runs if run.problem]
    return found + ordering_problems(runs)


def run_problem(failed_before: int, exposure: Exposure, bad_version: str) -> str | None:
    """What makes one run not count: failures before shipping (the good release or the
    set-up failed), the faulty release answering after its rollback was complete, or it
    never getting traffic at all."""
    if failed_before:
        return f"{failed_before} requests failed before {bad_version} was shipped"
    if exposure.bad_after:
        return (
            f"{bad_version} still answered {exposure.bad_after} requests sent after "
            f"the rollback was complete"
        )
    if not exposure.bad_answers:
        return f"{bad_version} never got any traffic"
    return None


def ordering_problems(runs: Sequence[StrategyRun]) -> list[str]:
    """Each strategy run must let fewer requests fail than the more exposed one before it
    (big-bang, then rolling, then canary)."""
    ordered = sorted(runs, key=lambda run: list(Strategy).index(run.strategy))
    found = []
    for more, fewer in itertools.pairwise(ordered):
        if fewer.exposure.failed >= more.exposure.failed:
            found.append(
                f"{fewer.strategy.value} let {fewer.exposure.failed} requests fail and "
                f"{more.strategy.value} {more.exposure.failed}: expected {fewer.strategy.value} "
                f"to expose fewer failed requests than {more.strategy.value}"
            )
    return found


def _span(window: Window | None) -> str:
    return "-" if window is None else f"{window.seconds:.1f}s"


def _at(seconds: float | None) -> str:
    return "-" if seconds is None else f"+{seconds:.1f}s"
