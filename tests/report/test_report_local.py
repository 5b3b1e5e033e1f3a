"""The history and the report of a real local analysis, against `coalmine up`'s runtime.

One analysis (tests/fixtures/analysis.py: initialized, promoted, rolled back) for both:
the history read through the runtime's API as the CLI reads it (`coalmine.history`),
then `coalmine report`, which renders that history. They were two tests running the
same 25-second scenario each.
"""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from coalmine.history.reading import read_history
from coalmine.local.runtime import LocalRuntime
from coalmine.targets.local import LocalTarget
from tests.fixtures.analysis import promote_then_roll_back
from tests.fixtures.cli import coalmine
from tests.fixtures.local import NAMESPACE

pytestmark = pytest.mark.slow


class _References(HTMLParser):
    """Every tag and every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "data", "poster"):
                self.references.append(value or "")


def assert_self_contained(html: str) -> None:
    parser = _References()
    parser.feed(html)
    assert parser.references == [], parser.references
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(parser.tags)
    assert not re.search(r"https?://|url\(|@import|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I)


async def assert_the_history_has_every_step_check_primary_and_verdict(
    runtime: LocalRuntime,
) -> None:
    target = LocalTarget(runtime.settings.state_dir, NAMESPACE)
    # The target's calls block (urllib), as in the CLI: off the loop that serves them.
    history = await asyncio.to_thread(asyncio.run, read_history(target, NAMESPACE, "go-demo-7"))

    first, promoted, rolled_back = history.revisions
    assert first.verdict == "Initialized"
    assert promoted.verdict == "Succeeded" and rolled_back.verdict == "Failed"
    assert promoted.revision != rolled_back.revision
    assert {20, 40, 60} <= {w.weight for w in history.only(promoted).weights}
    assert promoted.max_weight == 60 and promoted.seconds > 0
    assert promoted.requests and promoted.requests > 50 and promoted.errors == 0
    assert rolled_back.requests and rolled_back.errors and rolled_back.errors > 0

    success = next(m for m in history.metrics if m.name == "request-success-rate")
    assert (success.min, success.max) == (99, None)
    good = history.only(promoted).metrics[0]
    assert good.canary and all(c.passed for c in good.canary)
    # While the canary was analysed the primary has a value at every point; once the
    # promotion replaces the primary's replicas, its checks wait for them to drain.
    analysed = max(c.time for c in good.canary)
    assert good.primary and all(p.value is not None for p in good.primary if p.time <= analysed)
    bad = history.only(rolled_back).metrics[0]
    assert any(not c.passed and c.value is not None and c.value < 99 for c in bad.canary)
    assert "rolled back" in history.why(rolled_back)
    assert "request-success-rate failed" in history.why(rolled_back)
    assert history.why(promoted).startswith("promoted after 20%, 40%, 60%")
    assert any("Rolling back" in e.message for e in history.only(rolled_back).events)
    assert history.revision(promoted.revision[:8]) == promoted


async def test_the_history_and_the_report_show_steps_values_and_verdict(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    """The report fetches nothing: every byte it shows is in the file."""
    await promote_then_roll_back(local_runtime)
    await local_runtime.sampler.close()
    await assert_the_history_has_every_step_check_primary_and_verdict(local_runtime)

    latest = tmp_path / "rolled-back.html"
    result = await coalmine(
        local_runtime, "report", "go-demo-7", "-n", "go-demo-7", "-o", str(latest)
    )
    assert result.exit_code == 0, result.output
    html = latest.read_text()
    assert_self_contained(html)
    assert '<p class="verdict failed"><strong>Failed</strong>: rolled back after' in html
    assert "request-success-rate failed" in html
    assert re.search(r'<tr class="failed"><td>[0-9:]+</td><td>[0-9.]+%</td><td>&gt;= 99</td>', html)
    assert "Rolling back go-demo-7.go-demo-7 failed checks threshold reached 2" in html
    assert html.count('<tr class="revision') == 3

    promoted_hash = html.split("<code>")[2].split("</code>")[0]
    good = tmp_path / "promoted.html"
    result = await coalmine(
        local_runtime,
        "report",
        "go-demo-7",
        "-n",
        "go-demo-7",
        "--revision",
        promoted_hash[:8],
        "-o",
        str(good),
    )
    assert result.exit_code == 0, result.output
    html = good.read_text()
    assert_self_contained(html)
    assert "<strong>Succeeded</strong>: promoted after 20%, 40%, 60%" in html
    for weight in (20, 40, 60):
        assert f'<tr class="step" data-weight="{weight}">' in html
    assert 'class="band"' in html and 'class="primary"' in html and 'class="canary"' in html
    assert "threshold" in html and "metric request-duration" in html

    markdown = await coalmine(local_runtime, "report", "go-demo-7", "-n", "go-demo-7", "-o", "-")
    assert markdown.exit_code == 0, markdown.output
    assert "**Failed**" in markdown.stdout and "| request-success-rate | >= 99 |" in markdown.stdout
    missing = await coalmine(
        local_runtime, "report", "go-demo-7", "-n", "go-demo-7", "--revision", "ffffffff"
    )
    assert "--revision ffffffff: no analysis of it; revisions: " in str(missing.exception)

    kept = tmp_path / "kept.html"
    waited = await coalmine(
        local_runtime,
        "wait",
        "go-demo-7",
        "-n",
        "go-demo-7",
        "--timeout",
        "20s",
        "--report",
        str(kept),
    )
    assert waited.exit_code == 1, waited.output  # the verdict on the current revision: rolled back
    assert f"report of go-demo-7 written to {kept}" in waited.output
    assert "<strong>Failed</strong>" in kept.read_text()
