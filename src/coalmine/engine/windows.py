"""Each check's window, scoped to the revision under analysis. Pure.

A check looks at the last `interval` of traffic (Flagger's meaning). coalmine cuts that
window at the start of this revision's analysis (`status.analysisStartTime`), so that a
check never reads traffic served before it: the errors of a canary rolled back a moment
ago are not charged to the next one. A cut window must still hold enough data to judge:
the metric's interval, or `CUT_WINDOW_INTERVALS` analysis intervals when that is shorter
(30 s at Flagger's shortest interval of 10 s: two scrapes at Prometheus's common 15 s).
Until then the check waits (neither pass nor fail); afterwards it is measured over the
cut window, and MetricTemplates see the cut length as `{{ interval }}`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalmine.api.canary import CanaryMetric
from coalmine.api.common import parse_duration
from coalmine.engine.observations import Measurement

__all__ = ["CUT_WINDOW_INTERVALS", "REVISION_SOURCE", "scoped", "waiting_reason"]

CUT_WINDOW_INTERVALS = 3
"""The shortest cut window, in analysis intervals."""
REVISION_SOURCE = "the analysis of this revision"


def scoped(
    metric: CanaryMetric, start: datetime | None, now: datetime, analysis_interval: timedelta
) -> CanaryMetric | Measurement:
    """The metric with its interval cut at `start`, or a "waiting" measurement.

    An unchanged interval keeps the metric as written, so a query renders exactly as
    in Flagger once the analysis is older than the metric's interval.
    """
    interval = parse_duration(metric.interval_or_default)
    if start is None or now - start >= interval:
        return metric
    needed = min(interval, CUT_WINDOW_INTERVALS * analysis_interval)
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
