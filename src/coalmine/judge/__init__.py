"""The judge: compares the canary with the primary (or a baseline) at every tick.

Pure and quick to import: no I/O; scipy is imported on the first judged tick, not here.
See docs/judge.md for the method.
"""

from coalmine.judge.errors import judge_errors
from coalmine.judge.judge import JudgeOutcome, judge_tick
from coalmine.judge.latency import judge_latency
from coalmine.judge.observations import Histogram, Side, TickObservation, parse_tick
from coalmine.judge.sequence import Interval, half_width, interval
from coalmine.judge.shares import binomial_difference

__all__ = [
    "Histogram",
    "Interval",
    "JudgeOutcome",
    "Side",
    "TickObservation",
    "binomial_difference",
    "half_width",
    "interval",
    "judge_errors",
    "judge_latency",
    "judge_tick",
    "parse_tick",
]
