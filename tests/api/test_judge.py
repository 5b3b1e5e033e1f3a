"""spec.analysis.judge: coalmine.dev only, with errors that name the fix."""

from __future__ import annotations

import pytest

from coalmine.api import load_text


def manifest(api_version: str, judge: str) -> str:
    return f"""
apiVersion: {api_version}
kind: Canary
metadata: {{name: app}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  service: {{port: 80}}
  analysis:
    interval: 1m
    stepWeight: 20
    judge:
{judge}
"""


def test_a_coalmine_canary_takes_the_judge_of_the_issue() -> None:
    text = manifest(
        "coalmine.dev/v1beta1",
        "      errors: {maxIncrease: 0.5}\n"
        "      latency: {quantile: 0.99, maxIncrease: 10%}\n"
        "      confidence: 0.99\n",
    )
    loaded = load_text(text)
    assert not loaded.problems
    judge = loaded.resources[0].spec.analysis.judge  # type: ignore[union-attr]
    assert judge is not None and judge.latency is not None
    assert judge.latency.margin == pytest.approx(0.10)
    assert judge.alpha == pytest.approx(0.01)


def test_a_flagger_canary_keeps_thresholds() -> None:
    text = manifest("flagger.app/v1beta1", "      errors: {maxIncrease: 0.5}\n")
    loaded = load_text(text)
    assert loaded.problems
    assert "use apiVersion coalmine.dev/v1beta1" in str(loaded.problems[0])


BASELINE = "      errors: {maxIncrease: 0.5}\n      baseline: true\n"


def test_a_baseline_caps_the_canary_weight_at_half_the_traffic() -> None:
    text = manifest("coalmine.dev/v1beta1", BASELINE)
    loaded = load_text(
        text.replace("    stepWeight: 20\n", "    stepWeight: 20\n    maxWeight: 80\n")
    )
    assert not loaded.problems
    analysis = loaded.resources[0].spec.analysis  # type: ignore[union-attr]
    assert analysis.judge is not None and analysis.judge.baseline
    assert analysis.effective_max_weight == 50  # the baseline takes as much: 2 x 50 = 100


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("    iterations: 5\n    mirror: true\n", "A/B testing and blue/green have no weights"),
        ("    stepWeight: 20\n    mirror: true\n", "not a mirror of the primary's"),
        ("    stepWeight: 20\n    sessionAffinity: {cookieName: x}\n", "remove sessionAffinity"),
    ],
)
def test_a_baseline_needs_weights_the_canary_alone_receives(change: str, says: str) -> None:
    text = manifest("coalmine.dev/v1beta1", BASELINE).replace("    stepWeight: 20\n", change)
    problems = str(load_text(text).problems[0])
    assert says in problems and "judge.baseline" in problems


def test_blue_green_without_mirror_gives_the_judge_nothing_to_compare() -> None:
    text = manifest("coalmine.dev/v1beta1", "      errors: {maxIncrease: 0.5}\n")
    text = text.replace("    stepWeight: 20\n", "    iterations: 5\n")
    problems = str(load_text(text).problems[0])
    assert "blue/green without mirror sends the canary none" in problems
    assert not load_text(
        text.replace("    iterations: 5\n", "    iterations: 5\n    mirror: true\n")
    ).problems
