"""The comparison as an SVG chart: the share of requests the faulty release answered,
second by second after shipping, one line per strategy. Drawn only from measured runs."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from coalmine.demo.strategies.options import Strategy
from coalmine.demo.strategies.report import StrategyRun

__all__ = ["chart"]

WIDTH, HEIGHT = 760, 400
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 56, 112
COLOURS = {Strategy.BIG_BANG: "#d62728", Strategy.ROLLING: "#e08a00", Strategy.CANARY: "#2a9d3a"}


def chart(runs: Sequence[StrategyRun], bad_version: str, caption: str) -> str:
    """An SVG document; `caption` says how the figures were produced."""
    seconds = [s.at for run in runs for s in run.exposure.timeline]
    first, last = (min(seconds), max(seconds) + 1) if seconds else (0, 1)
    scale = _Scale(first, last)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">'
        f"Share of requests answered by the faulty release {escape(bad_version)}</text>",
        f'<text x="{LEFT}" y="40" fill="#555">per second, from a measured run; '
        f"0 s = shipped</text>",
        *_grid(scale, first, last),
        *(_line(scale, run) for run in runs),
        *_legend(runs),
        f'<text x="{LEFT}" y="{HEIGHT - 10}" fill="#555">{escape(caption)}</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


class _Scale:
    def __init__(self, first: int, last: int) -> None:
        self.first, self.span = first, max(1, last - first)

    def x(self, second: float) -> float:
        return LEFT + (second - self.first) * (WIDTH - LEFT - RIGHT) / self.span

    @staticmethod
    def y(percent: float) -> float:
        return TOP + (100 - percent) * (HEIGHT - TOP - BOTTOM) / 100


def _grid(scale: _Scale, first: int, last: int) -> list[str]:
    lines = []
    for percent in range(0, 101, 20):
        y = scale.y(percent)
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        lines.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{percent} %</text>')
    bottom = scale.y(0)
    for second in range(first - first % 5, last + 1, 5):
        if second < first:
            continue
        x = scale.x(second)
        lines.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{bottom}" stroke="#eee"/>')
        lines.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{second} s</text>')
    return lines


def _line(scale: _Scale, run: StrategyRun) -> str:
    """A step line: each second's share held across that second."""
    timeline = run.exposure.timeline
    if not timeline:
        return ""
    path = [f"M{scale.x(timeline[0].at):.1f},{scale.y(timeline[0].bad_share):.1f}"]
    for second in timeline:
        path.append(f"V{scale.y(second.bad_share):.1f}H{scale.x(second.at + 1):.1f}")
    colour = COLOURS[run.strategy]
    return (
        f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2.2" '
        f'stroke-linejoin="round"><title>{run.strategy.value}</title></path>'
    )


def _legend(runs: Sequence[StrategyRun]) -> list[str]:
    items = []
    for index, run in enumerate(runs):
        y = HEIGHT - BOTTOM + 40 + 16 * index
        exposure = run.exposure
        served = "-" if exposure.bad_serving is None else f"{exposure.bad_serving.seconds:.1f} s"
        text = (
            f"{run.strategy.value}: {exposure.failed} failed requests of {exposure.requests}; "
            f"the faulty release served for {served}"
        )
        items.append(
            f'<line x1="{LEFT}" x2="{LEFT + 22}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{COLOURS[run.strategy]}" stroke-width="3"/>'
        )
        items.append(f'<text x="{LEFT + 28}" y="{y}">{escape(text)}</text>')
    return items
