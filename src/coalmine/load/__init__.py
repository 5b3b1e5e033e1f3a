"""An open-loop HTTP load generator: `coalmine load`, and the load tester's `load` task.

plan = LoadPlan(urls=("http://127.0.0.1:8080/demo/hello",), rate=50, duration=30)
result = await generate_load(plan)          # or LoadGenerator(plan): run/stop/snapshot
result.statuses, result.errors, result.latency.p99, result.rate
generate_load(plan, on_outcome=outcomes.append)   # also each request: when, status, body
"""

from coalmine.load.failures import failure_kind
from coalmine.load.generator import LoadGenerator, generate_load
from coalmine.load.outcome import OnOutcome, RequestOutcome
from coalmine.load.plan import LoadPlan
from coalmine.load.report import progress_line, summary_lines
from coalmine.load.result import LatencySummary, LoadResult, percentile

__all__ = [
    "LatencySummary",
    "LoadGenerator",
    "LoadPlan",
    "LoadResult",
    "OnOutcome",
    "RequestOutcome",
    "failure_kind",
    "generate_load",
    "percentile",
    "progress_line",
    "summary_lines",
]
