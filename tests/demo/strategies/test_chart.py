"""The SVG chart: one step line per measured strategy, with its figures in the legend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from coalmine.demo.strategies.chart import COLOURS, chart
from coalmine.demo.strategies.exposure import Exposure, Second, Window
from coalmine.demo.strategies.options import Strategy
from coalmine.demo.strategies.report import StrategyRun

SVG = "{http://www.w3.org/2000/svg}"


def run(strategy: Strategy, shares: list[int]) -> StrategyRun:
    timeline = tuple(
        Second(at - 2, 10, share // 10, share // 20) for at, share in enumerate(shares)
    )
    exposure = Exposure(
        requests=10 * len(shares),
        failed=sum(s.failed for s in timeline),
        bad_answers=sum(s.bad_answers for s in timeline),
        failing=Window(0.1, 3.9),
        bad_serving=Window(0.0, 4.0),
        bad_after=0,
        timeline=timeline,
    )
    return StrategyRun(strategy, exposure, "by hand", 3.0, "selector", 4.0)


def test_one_step_line_per_strategy_and_the_figures_in_the_legend() -> None:
    runs = [run(Strategy.BIG_BANG, [0, 0, 100, 100, 100, 100, 0]), run(Strategy.CANARY, [0] * 9)]
    svg = ET.fromstring(chart(runs, "0.0.2", "coalmine demo --strategy big-bang,canary"))
    paths = svg.findall(f"{SVG}path")
    assert [p.get("stroke") for p in paths] == [
        COLOURS[Strategy.BIG_BANG],
        COLOURS[Strategy.CANARY],
    ]
    # one vertical and one horizontal move per second
    assert [p.get("d", "").count("H") for p in paths] == [7, 9]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "big-bang: 20 failed requests of 70; the faulty release served for 4.0 s" in texts
    assert "canary: 0 failed requests of 90; the faulty release served for 4.0 s" in texts
    assert "coalmine demo --strategy big-bang,canary" in texts
    assert {"0 s", "5 s"} <= set(texts)  # every 5 s within the first to the last second
    assert "-5 s" not in texts


def test_the_share_is_drawn_to_scale() -> None:
    svg = ET.fromstring(chart([run(Strategy.ROLLING, [0, 100])], "0.0.2", "x"))
    [path] = svg.findall(f"{SVG}path")
    d = path.get("d", "")
    # 0 % at the bottom of the plot, 100 % at its top (TOP = 56)
    assert d.startswith("M56.0,288.0V288.0H") and "V56.0H" in d
