"""What `coalmine demo --strategy` compares, and with which settings; checked up front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from coalmine.errors import CoalmineError

__all__ = [
    "DEFAULT_DETECTION_DELAY",
    "DEFAULT_INTERVAL",
    "DEFAULT_RPS",
    "CompareSettings",
    "Strategy",
    "parse_strategies",
]


class Strategy(StrEnum):
    """In the order they are run and shown: most exposed first."""

    BIG_BANG = "big-bang"
    ROLLING = "rolling"
    CANARY = "canary"


DEFAULT_DETECTION_DELAY = 10.0
"""Seconds from the first failed request to the rollback by hand (big-bang, rolling).
A person watching a dashboard would rarely be this quick. The rolling update replaces
a replica every ~6 s, so at 10 s it has reached one or two of five; a delay near the
rollout's whole length (~30 s) makes rolling as bad as big-bang, or worse (see
docs/guide/01-strategies.md)."""
DEFAULT_RPS = 50.0
DEFAULT_INTERVAL = 2
"""The canary's analysis interval, seconds (the workshop's 1m, shortened)."""


def parse_strategies(values: Sequence[str]) -> tuple[Strategy, ...]:
    """`--strategy` values (repeated, comma-separated, or `all`) in the order they run.

    Raises CoalmineError naming the option and the choices for anything else.
    """
    names = [part.strip() for value in values for part in value.split(",")]
    if not names or not all(names):
        raise CoalmineError(
            "--strategy: give big-bang, rolling, canary or all (repeat it or separate with commas)"
        )
    chosen: set[Strategy] = set()
    for name in names:
        if name == "all":
            chosen.update(Strategy)
            continue
        try:
            chosen.add(Strategy(name))
        except ValueError:
            raise CoalmineError(
                f"--strategy: unknown strategy {name!r}; choose big-bang, rolling, canary or all"
            ) from None
    return tuple(s for s in Strategy if s in chosen)


@dataclass(frozen=True)
class CompareSettings:
    strategies: tuple[Strategy, ...]
    detection_delay: float = DEFAULT_DETECTION_DELAY
    """Seconds from the first failed request users saw to the rollback by hand: the same
    for big-bang and rolling."""
    rps: float = DEFAULT_RPS
    """Requests per second of the steady open-loop load, the same for every strategy."""
    interval: int = DEFAULT_INTERVAL
    """The canary's analysis interval, seconds."""

    def __post_init__(self) -> None:
        if not self.strategies:
            raise CoalmineError("--strategy: give at least one of big-bang, rolling, canary")
        _check("--detection-delay", self.detection_delay, 1, 120, "seconds")
        _check("--rps", self.rps, 10, 500, "requests per second")
        _check("--interval", self.interval, 1, 60, "seconds")


def _check(option: str, value: float, low: float, high: float, unit: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise CoalmineError(f"{option}: must be from {low:g} to {high:g} {unit}, got {value:g}")
