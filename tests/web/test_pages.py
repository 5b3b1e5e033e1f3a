"""The canary page's parts, rendered from a history made by hand."""

from __future__ import annotations

from coalmine.history import build_history
from coalmine.web.pages import canary_page, canary_parts
from tests.report.test_html import HOSTILE, hostile_history, judged_history


def test_the_canary_page_shows_the_judge_escaped_and_updates_it_live() -> None:
    line = f"errors: canary 2.31 % vs baseline 0.40 % {HOSTILE} > 0.5 pt: rollback"
    history = build_history(*judged_history(line))
    parts = canary_parts(history, None)
    assert "+1.20 pt .. +2.60 pt" in parts["judge"]  # the last tick's interval
    assert "<td>rollback</td><td>errors: canary 2.31 % vs baseline" in parts["judge"]
    assert "<script" not in parts["judge"] and "&lt;script&gt;" in parts["judge"]
    page = canary_page(history, None, parts, csrf="c", source="local")
    assert f'<h2>Judge</h2><div id="judge">{parts["judge"]}</div>' in page  # live: by id


def test_without_a_judge_the_page_has_no_judge_section() -> None:
    history = build_history(*hostile_history())
    parts = canary_parts(history, None)
    assert parts["judge"] == ""
    assert 'id="judge"' not in canary_page(history, None, parts, csrf="c", source="local")
