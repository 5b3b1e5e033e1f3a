"""`coalmine demo --strategy`: the same faulty release shipped big-bang, rolling and
canary under the same steady load, on the local runtime, with what users saw of it.

    options    which strategies, the detection delay, the load (checked up front)
    manifests  the objects each strategy applies
    plays      how each ships the faulty release and how it is undone
    measure    runs each under load (compare) and accounts every request
    exposure   pure: failed requests, how long, which release answered
    report     pure: the table and whether the ordering holds
"""

from coalmine.demo.strategies.measure import compare
from coalmine.demo.strategies.options import CompareSettings, Strategy, parse_strategies
from coalmine.demo.strategies.report import StrategyRun, problems, table

__all__ = [
    "CompareSettings",
    "Strategy",
    "StrategyRun",
    "compare",
    "parse_strategies",
    "problems",
    "table",
]
