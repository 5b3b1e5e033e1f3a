"""Charts as inline SVG, drawn on the server: the report and the dashboard share them.

No script and no request: a chart is a string of escaped SVG, so a report is one file
that opens anywhere, and a dashboard page renders before any script runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from coalmine.history.model import MetricHistory, WeightPoint

__all__ = ["metric_chart", "sparkline", "weight_chart"]

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 24
CANARY, PRIMARY, BAND, FAILED, AXIS = "#d9480f", "#1c7ed6", "#2b8a3e", "#c92a2a", "#868e96"


class _Frame:
    """Maps times and values into the plot area."""

    def __init__(
        self,
        start: datetime,
        end: datetime,
        low: float,
        high: float,
        size: tuple[int, int] = (WIDTH, HEIGHT),
    ) -> None:
        self.start, self.span = start.timestamp(), max(end.timestamp() - start.timestamp(), 1.0)
        self.low, self.high = low, high if high > low else low + 1.0
        self.width, self.height = size

    def x(self, time: datetime) -> float:
        return LEFT + (time.timestamp() - self.start) / self.span * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return self.height - BOTTOM - share * (self.height - TOP - BOTTOM)


def _svg(label: str, body: str, css_class: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> str:
    return (
        f'<svg class="{css_class}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {size[0]} {size[1]}" width="100%" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _axes(frame: _Frame, start: datetime, end: datetime, unit: str) -> str:
    bottom, right = frame.height - BOTTOM, frame.width - RIGHT
    parts = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{AXIS}"/>',
    ]
    for value in (frame.low, frame.high):
        parts.append(
            f'<text x="{LEFT - 4}" y="{frame.y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{AXIS}">{escape(_number(value))}{escape(unit)}</text>'
        )
    for time, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{frame.x(time):.1f}" y="{frame.height - 6}" text-anchor="{anchor}" '
            f'font-size="11" fill="{AXIS}">{time:%H:%M:%S}</text>'
        )
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:.4g}"


WEIGHT_SIZE = (960, 150)


def weight_chart(weights: Sequence[WeightPoint], label: str = "canary weight") -> str:
    """The canary's weight over time as a step line (0 to 100 %)."""
    if not weights:
        return _svg(label, _empty(WEIGHT_SIZE), "chart weight-chart", WEIGHT_SIZE)
    start, end = weights[0].time, weights[-1].time
    frame = _Frame(start, end, 0.0, 100.0, WEIGHT_SIZE)
    path, previous = [], None
    for point in weights:
        x, y = frame.x(point.time), frame.y(point.weight)
        path.append(f"M{x:.1f},{y:.1f}" if previous is None else f"H{x:.1f}V{y:.1f}")
        previous = y
    steps = "".join(
        f'<circle cx="{frame.x(p.time):.1f}" cy="{frame.y(p.weight):.1f}" r="2.5" '
        f'fill="{CANARY}"><title>{p.time:%H:%M:%S} {p.weight}% {escape(p.phase)}</title></circle>'
        for p in _changes(weights)
    )
    line = f'<path d="{"".join(path)}" fill="none" stroke="{CANARY}" stroke-width="2"/>'
    body = _axes(frame, start, end, "%") + line + steps
    return _svg(label, body, "chart weight-chart", WEIGHT_SIZE)


def _changes(weights: Sequence[WeightPoint]) -> list[WeightPoint]:
    """The points where the weight moved (and the first), so a step shows once."""
    found: list[WeightPoint] = []
    for point in weights:
        if not found or found[-1].weight != point.weight:
            found.append(point)
    return found


def metric_chart(metric: MetricHistory, unit: str = "") -> str:
    """The canary's checked values and the primary's, with the accepted range as a band;
    failed checks are red crosses."""
    label = f"{metric.name}: canary against primary, range {metric.range_text()}"
    times = [c.time for c in metric.canary] + [p.time for p in metric.primary]
    if not times:
        return _svg(label, _empty(), "chart metric-chart")
    start, end = min(times), max(times)
    values = [c.value for c in metric.canary if c.value is not None]
    values += [p.value for p in metric.primary if p.value is not None]
    values += [v for v in (metric.min, metric.max) if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    frame = _Frame(start, end, low - pad, high + pad)
    body = _axes(frame, start, end, unit) + _band(frame, metric)
    primary = [(p.time, p.value) for p in metric.primary]
    body += _line(frame, primary, PRIMARY, "primary", dashed=True)
    body += _line(frame, [(c.time, c.value) for c in metric.canary], CANARY, "canary")
    body += "".join(_check_mark(frame, c.time, c.value, c.passed, c.reason) for c in metric.canary)
    return _svg(label, body, "chart metric-chart")


def _band(frame: _Frame, metric: MetricHistory) -> str:
    top = frame.y(metric.max) if metric.max is not None else TOP
    bottom = frame.y(metric.min) if metric.min is not None else frame.height - BOTTOM
    if metric.min is None and metric.max is None:
        return ""
    return (
        f'<rect class="band" x="{LEFT}" y="{top:.1f}" width="{frame.width - LEFT - RIGHT}" '
        f'height="{max(bottom - top, 0):.1f}" fill="{BAND}" fill-opacity="0.12">'
        f"<title>accepted range {escape(metric.range_text())}</title></rect>"
    )


def _line(
    frame: _Frame,
    points: Sequence[tuple[datetime, float | None]],
    color: str,
    role: str,
    *,
    dashed: bool = False,
) -> str:
    """A polyline broken where there was no data."""
    runs: list[list[str]] = [[]]
    for time, value in points:
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{frame.x(time):.1f},{frame.y(value):.1f}")
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    lines = "".join(
        f'<polyline class="{role}" points="{" ".join(run)}" fill="none" stroke="{color}" '
        f'stroke-width="2"{dash}/>'
        for run in runs
        if run
    )
    if not dashed:
        return lines
    return lines + "".join(  # a lone point draws no line: mark every point
        f'<circle class="{role}-point" cx="{xy.split(",")[0]}" cy="{xy.split(",")[1]}" r="2.5" '
        f'fill="none" stroke="{color}"/>'
        for run in runs
        for xy in run
    )


def _check_mark(
    frame: _Frame, time: datetime, value: float | None, passed: bool, reason: str
) -> str:
    x = frame.x(time)
    shown = _number(value) if value is not None else f"no data ({reason})"
    title = f"<title>{time:%H:%M:%S} {escape(shown)} {'passed' if passed else 'FAILED'}</title>"
    if passed and value is not None:
        return (
            f'<circle class="check passed" cx="{x:.1f}" cy="{frame.y(value):.1f}" r="2.5" '
            f'fill="{CANARY}">{title}</circle>'
        )
    y = frame.y(value) if value is not None else frame.height - BOTTOM
    return (
        f'<path class="check failed" d="M{x - 4:.1f},{y - 4:.1f}l8,8m0,-8l-8,8" '
        f'stroke="{FAILED}" stroke-width="2.5">{title}</path>'
    )


def _empty(size: tuple[int, int] = (WIDTH, HEIGHT)) -> str:
    return (
        f'<text x="{size[0] / 2}" y="{size[1] / 2}" text-anchor="middle" fill="{AXIS}" '
        'font-size="13">no data yet</text>'
    )


def sparkline(weights: Sequence[WeightPoint], width: int = 120, height: int = 24) -> str:
    """A small weight history (a step line) for a table row."""
    if len(weights) < 2:
        return ""
    start = weights[0].time.timestamp()
    span = (weights[-1].time.timestamp() - start) or 1.0

    def x(point: WeightPoint) -> float:
        return (point.time.timestamp() - start) / span * width

    def y(point: WeightPoint) -> float:
        return height - 1 - point.weight / 100 * (height - 2)

    first, *rest = [*_changes(weights), weights[-1]]
    path = f"M0,{y(first):.1f}" + "".join(f"H{x(p):.1f}V{y(p):.1f}" for p in rest)
    return (
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}"><path d="{path}" fill="none" stroke="{CANARY}" '
        'stroke-width="1.5"/></svg>'
    )
