"""A cluster canary's rows, rebuilt from Prometheus range queries and its Events.

The operator keeps no history of its own: what it measured lives in Prometheus as
`coalmine_canary_weight`, `coalmine_canary_status` and `coalmine_canary_metric_analysis`
(one point per scrape), and the primary's side in Istio's own metrics. A revision's
analysis begins where the status turns to "running" (0) or where an Event says so
(`history.cluster`: also an analysis restarted by a newer revision); the Events give
each revision's verdict and name. What the canary served in a revision is Istio's
counter over it: `increase(istio_requests_total{...}[duration])` at its end.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from coalmine.api.common import parse_duration
from coalmine.errors import CoalmineError
from coalmine.history.cluster import Revisions, marks, merge_starts, revisions, starts
from coalmine.history.records import CheckRow, Records, SampleRow, TickRow
from coalmine.metrics.builtins import Role, builtin_query
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.metrics.results import QueryResult
from coalmine.metrics.templating import TemplateContext, render
from coalmine.targets.base import CanaryView, EventView

__all__ = ["PHASES", "prometheus_records"]

PHASES = {0.0: "Progressing", 1.0: "Succeeded", 2.0: "Failed"}
"""coalmine_canary_status values (telemetry.recorder) as the phase they stand for (1 also
stands for idle phases: see `_phase`)."""
RUNNING = ("Progressing", "WaitingPromotion", "Promoting", "Finalising")

WINDOW = timedelta(hours=6)
MAX_POINTS = 10000


async def prometheus_records(
    canary: CanaryView,
    server: str,
    events: Sequence[EventView] = (),
    *,
    now: datetime | None = None,
) -> Records:
    end = now or datetime.now(UTC)
    start = end - WINDOW
    step = max(_interval_seconds(canary), WINDOW.total_seconds() / MAX_POINTS)
    provider = PrometheusProvider(ProviderSettings(server))
    selector = f'namespace="{canary.namespace}"'
    target = canary.target

    async def series(query: str) -> QueryResult:
        return await provider.range(query, start=start, end=end, step_seconds=step)

    weights = _points(await series(f'coalmine_canary_weight{{{selector},workload="{target}"}}'))
    status = _points(await series(f'coalmine_canary_status{{{selector},name="{target}"}}'))
    told = marks(events)
    within = timedelta(seconds=2 * step + _interval_seconds(canary))
    named = revisions(canary, merge_starts(_running_starts(status), starts(told), within), told)
    ticks = tuple(
        TickRow(
            _time(at),
            _phase(canary, named, status.get(at, math.nan), _time(at)),
            int(value),
            0,
            _revision(canary, named, _time(at)),
        )
        for at, value in sorted(weights.items())
    )

    def revision_at(at: float) -> str:
        return _revision(canary, named, _time(at))

    analysis = await series(f'coalmine_canary_metric_analysis{{{selector},name="{target}"}}')
    checks = _checks(canary, analysis, revision_at)
    samples = await _primary(canary, series, revision_at)
    served = await _served(canary, provider, ticks)
    return Records(ticks=ticks, checks=checks, samples=samples + served)


def _interval_seconds(canary: CanaryView) -> float:
    interval = (canary.spec.get("analysis") or {}).get("interval") or "1m"
    return max(1.0, parse_duration(str(interval)).total_seconds())


def _points(result: QueryResult) -> dict[float, float]:
    return {p.time: p.value for s in result.series[:1] for p in s.points}


def _time(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _running_starts(status: dict[float, float]) -> list[datetime]:
    """Where the status turns to running (0): an analysis began."""
    starts: list[datetime] = []
    previous = None
    for at, value in sorted(status.items()):
        if value == 0.0 and previous != 0.0:
            starts.append(_time(at))
        previous = value
    return starts


def _revision(canary: CanaryView, named: Revisions, at: datetime) -> str:
    """Ticks of a canary idle the whole window are its current revision's."""
    if not named.starts:
        return canary.last_applied or ""
    return named.name(at)


def _phase(canary: CanaryView, named: Revisions, status: float, at: datetime) -> str:
    """The status as a phase. A status of 1 also means idle (Initialized, Waiting): after
    an analysis it is the verdict the Events give (Succeeded when they do not say);
    before any analysis in the window, the last verdict the Events give, or the
    canary's phase when nothing ran in the window at all."""
    if status != 1.0:
        return PHASES.get(status, "Unknown")
    if not named.starts:
        phase = canary.phase or "Unknown"
        return phase if phase not in RUNNING else "Unknown"
    index = named.index(at)
    if index < 0:
        return named.before
    return named.verdicts[index] or "Succeeded"


def _checks(
    canary: CanaryView, analysis: QueryResult, revision_at: Callable[[float], str]
) -> tuple[CheckRow, ...]:
    ranges = {
        str(m.get("name")): m.get("thresholdRange") or {}
        for m in (canary.spec.get("analysis") or {}).get("metrics") or []
    }
    rows = []
    for item in analysis.series:
        metric = item.labels.get("metric", "")
        limits = ranges.get(metric, {})
        low, high = limits.get("min"), limits.get("max")
        for point in item.points:
            value = None if math.isnan(point.value) else point.value
            passed = value is not None and (low is None or value >= low)
            passed = passed and (high is None or (value is not None and value <= high))
            reason = "" if value is not None else "no data"
            rows.append(
                CheckRow(
                    _time(point.time),
                    revision_at(point.time),
                    metric,
                    value,
                    low,
                    high,
                    passed,
                    reason,
                )
            )
    return tuple(sorted(rows, key=lambda r: r.time))


async def _primary(
    canary: CanaryView,
    series: Callable[[str], Awaitable[QueryResult]],
    revision_at: Callable[[float], str],
) -> tuple[SampleRow, ...]:
    """The primary's built-ins (Istio) over the same window as the checks."""
    from coalmine.api.canary import Canary
    from coalmine.api.loading import parse_resource

    model = parse_resource(
        {
            "apiVersion": canary.api_version,
            "kind": "Canary",
            "metadata": {"name": canary.name, "namespace": canary.namespace},
            "spec": canary.spec,
        }
    )
    assert isinstance(model, Canary)
    rows: list[SampleRow] = []
    wanted = [("primary", m.name, m.interval_or_default) for m in model.spec.analysis.metrics]
    tick = f"{round(_interval_seconds(canary))}s"
    wanted += [("canary", "request-rate", tick), ("canary", "error-rate", tick)]
    for role, name, interval in wanted:
        try:
            template = builtin_query("istio", name, Role(role))
        except CoalmineError:  # a metric of its own query has no primary built-in
            continue
        query = render(template, TemplateContext.for_interval(model, interval), source=name)
        seconds = parse_duration(interval).total_seconds()
        for item in (await series(query)).series[:1]:
            rows += [
                SampleRow(
                    _time(p.time),
                    revision_at(p.time),
                    role,
                    name,
                    None if math.isnan(p.value) else p.value,
                    seconds,
                )
                for p in item.points
            ]
    return tuple(sorted(rows, key=lambda r: r.time))


SERVED = {
    "requests": 'sum(increase(istio_requests_total{{reporter="destination",'
    'destination_workload_namespace="{namespace}",destination_workload="{target}"}}[{seconds}s]))',
    "errors": 'sum(increase(istio_requests_total{{reporter="destination",'
    'destination_workload_namespace="{namespace}",destination_workload="{target}",'
    'response_code=~"5.*"}}[{seconds}s]))',
}
"""What the canary served over a revision, from Istio's counter at the revision's end."""


async def _served(
    canary: CanaryView, provider: PrometheusProvider, ticks: Sequence[TickRow]
) -> tuple[SampleRow, ...]:
    """Per revision: requests and 5xx the canary served between its first and last tick."""
    rows = []
    for revision, (first, last) in _spans(ticks).items():
        seconds = max(1, round((last - first).total_seconds()))
        for kind, template in SERVED.items():
            query = template.format(
                namespace=canary.namespace, target=canary.target, seconds=seconds
            )
            result = await provider.range(query, start=last, end=last, step_seconds=1)
            value = next((p.value for s in result.series for p in s.points), None)
            if value is not None and not math.isnan(value):
                rows.append(SampleRow(last, revision, "canary", kind, value, float(seconds)))
    return tuple(rows)


def _spans(ticks: Sequence[TickRow]) -> dict[str, tuple[datetime, datetime]]:
    """Each revision's first and last tick."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for tick in ticks:
        if tick.revision:
            first, _ = spans.get(tick.revision, (tick.time, tick.time))
            spans[tick.revision] = (first, tick.time)
    return spans
