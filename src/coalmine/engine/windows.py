"""Each check's window, scoped to the revision under analysis. Pure.

A check looks at the last `interval` of traffic (Flagger's meaning). coalmine cuts that
window at the start of this revision's analysis (`status.analysisStartTime`), so that a
check never reads traffic served before it: the errors of a canary rolled back a moment
ago are not charged to the next one. A cut window must still hold enough data to judge:
the metric's interval, or `MIN_CUT_WINDOW` when the interval is longer. Until then the
check waits (neither pass nor fail); afterwards it is measured over the cut window, and
MetricTemplates see the cut length as `{{ interval }}`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalmine.api.canary import CanaryMetric
from coalmine.api.common import parse_duration
from coalmine.engine.observations import Measurement

__all__ = ["MIN_CUT_WINDOW", "REVISION_SOURCE", "scoped", "waiting_reason"]

MIN_CUT_WINDOW = timedelta(seconds=30)
"""The shortest window a check is judged on when the analysis is younger than the
metric's interval: two scrapes at Prometheus's common 15 s interval."""
REVISION_SOURCE = "the analysis of this revision"


def scoped(
    metric: CanaryMetric, start: datetime | None, now: datetime
) -> CanaryMetric | Measurement:
    """The metric with its interval cut at `start`, or a "waiting" measurement.

    An unchanged interval keeps the metric as written, so a query renders exactly as
    in Flagger once the analysis is older than the metric's interval.
    """
    interval = parse_duration(metric.interval_or_default)
    if start is None or now - start >= interval:
        return metric
    needed = min(interval, MIN_CUT_WINDOW)
    elapsed = now - start
    if elapsed < needed:
        return Measurement.waiting(
            REVISION_SOURCE,
            start,
            waiting_reason(
                needed.total_seconds(), start, "when the analysis of this revision began"
            ),
        )
    return metric.model_copy(update={"interval": f"{int(elapsed.total_seconds())}s"})


def waiting_reason(seconds: float, since: datetime, why: str) -> str:
    """`waiting for 15s of data since 12:00:05 UTC (why)`: the words every waiting check uses."""
    at = since.astimezone(UTC).strftime("%H:%M:%S UTC")
    return f"waiting for {seconds:g}s of data since {at} ({why})"
