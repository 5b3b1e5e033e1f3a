"""A cluster canary's rows, rebuilt from Prometheus range queries.

The operator keeps no history of its own: what it measured lives in Prometheus as
`coalmine_canary_weight`, `coalmine_canary_status` and `coalmine_canary_metric_analysis`
(one point per scrape), and the primary's side in Istio's own metrics. Each stretch of
time the status reads "running" (0) is one revision's analysis; only the last one is
known by its hash (`status.lastAppliedSpec`), earlier ones are named `earlier-N`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from coalmine.api.common import parse_duration
from coalmine.errors import CoalmineError
from coalmine.history.records import CheckRow, Records, SampleRow, TickRow
from coalmine.metrics.base import ProviderSettings
from coalmine.metrics.builtins import Role, builtin_query
from coalmine.metrics.prometheus import PrometheusProvider
from coalmine.metrics.results import QueryResult
from coalmine.metrics.templating import TemplateContext, render
from coalmine.targets.base import CanaryView

__all__ = ["PHASES", "prometheus_records"]

PHASES = {0.0: "Progressing", 1.0: "Succeeded", 2.0: "Failed"}
"""coalmine_canary_status values (telemetry.recorder) as the phase they stand for."""

WINDOW = timedelta(hours=6)
MAX_POINTS = 10000


async def prometheus_records(
    canary: CanaryView, server: str, *, now: datetime | None = None
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
    revisions = _revision_of(status, canary.last_applied or "")
    ticks = tuple(
        TickRow(
            _time(at),
            PHASES.get(status.get(at, math.nan), "Unknown"),
            int(value),
            0,
            revisions(at),
        )
        for at, value in sorted(weights.items())
    )
    analysis = await series(f'coalmine_canary_metric_analysis{{{selector},name="{target}"}}')
    checks = _checks(canary, analysis, revisions)
    samples = await _primary(canary, series, revisions)
    return Records(ticks=ticks, checks=checks, samples=samples)


def _interval_seconds(canary: CanaryView) -> float:
    interval = (canary.spec.get("analysis") or {}).get("interval") or "1m"
    return max(1.0, parse_duration(str(interval)).total_seconds())


def _points(result: QueryResult) -> dict[float, float]:
    return {p.time: p.value for s in result.series[:1] for p in s.points}


def _time(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _revision_of(status: dict[float, float], current: str) -> Callable[[float], str]:
    """Which revision a moment belongs to: a new one starts where status turns to 0."""
    starts: list[float] = []
    previous = None
    for at, value in sorted(status.items()):
        if value == 0.0 and previous != 0.0:
            starts.append(at)
        previous = value
    names = [f"earlier-{i + 1}" for i in range(len(starts))]
    if names:
        names[-1] = current

    def revision(at: float) -> str:
        found = [name for start, name in zip(starts, names, strict=True) if start <= at]
        return found[-1] if found else ""

    return revision


def _checks(
    canary: CanaryView, analysis: QueryResult, revisions: Callable[[float], str]
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
                    revisions(point.time),
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
    revisions: Callable[[float], str],
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
        },
        min_interval=timedelta(0),
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
                    revisions(p.time),
                    role,
                    name,
                    None if math.isnan(p.value) else p.value,
                    seconds,
                )
                for p in item.points
            ]
    return tuple(sorted(rows, key=lambda r: r.time))
