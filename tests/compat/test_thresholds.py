"""`coalmine simulate` gives Flagger's verdict for each form of threshold.

Flagger (pkg/controller/scheduler_metrics.go): a value below thresholdRange.min or above
thresholdRange.max halts advancement; the legacy `threshold:` is a minimum for the built-in
request-success-rate and a maximum for request-duration (ms), inline queries and templates.
Each case changes one metric's value; the others stay good.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coalmine.cli.main import app

LEGACY = Path(__file__).parent / "manifests" / "legacy-threshold.yaml"
GOOD = {"request-success-rate": "99.5", "request-duration": "100", "latency": "120", "errors": "0"}
runner = CliRunner()


def simulate(path: Path, values: dict[str, str]) -> tuple[int, str]:
    options = [arg for name, value in values.items() for arg in ("-m", f"{name}={value}")]
    result = runner.invoke(app, ["simulate", "-f", str(path), *options])
    return result.exit_code, result.output


def test_good_values_are_promoted() -> None:
    code, output = simulate(LEGACY, GOOD)
    assert code == 0, output
    assert output.rstrip().endswith("-- verdict: promoted")


@pytest.mark.parametrize(
    ("metric", "value", "message"),
    [
        ("request-success-rate", "98", "request-success-rate 98.00 < 99"),
        ("request-duration", "900", "request-duration 900.00 > 500"),
        ("latency", "301", "latency 301.00 > 300"),
        ("errors", "6", "errors 6.00 > 5"),
    ],
)
def test_a_value_on_the_wrong_side_is_rolled_back(metric: str, value: str, message: str) -> None:
    code, output = simulate(LEGACY, {**GOOD, metric: value})
    assert code == 1, output
    assert message in output
    assert "verdict: not promoted (Failed)" in output


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("request-success-rate", "100"),
        ("request-duration", "1"),
        ("latency", "300"),
        ("errors", "5"),
    ],
)
def test_a_value_at_its_limit_or_better_is_promoted(metric: str, value: str) -> None:
    code, output = simulate(LEGACY, {**GOOD, metric: value})
    assert code == 0, output
