from pathlib import Path

from typer.testing import CliRunner

from coalmine.cli.main import app

CANARY = Path(__file__).parents[2] / "examples" / "workshop" / "canary.yaml"
runner = CliRunner()


def test_good_values_are_promoted() -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "-f",
            str(CANARY),
            "-m",
            "request-success-rate=99.9",
            "-m",
            "request-duration=200",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Advance go-demo-7.go-demo-7 canary weight 60" in result.output
    assert result.output.rstrip().endswith("-- verdict: promoted")


def test_a_failing_metric_is_rolled_back_with_exit_one() -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "-f",
            str(CANARY),
            "-m",
            "request-success-rate=99.9,80",
            "-m",
            "request-duration=200",
        ],
    )
    assert result.exit_code == 1
    assert "Rolling back go-demo-7.go-demo-7 failed checks threshold reached 5" in result.output


def test_a_metric_without_values_has_no_data_and_fails() -> None:
    result = runner.invoke(app, ["simulate", "-f", str(CANARY), "-m", "request-success-rate=100"])
    assert result.exit_code == 1
    assert "request-duration: no data" in result.output


def test_bad_metric_option_is_explained() -> None:
    result = runner.invoke(app, ["simulate", "-f", str(CANARY), "-m", "oops"])
    assert result.exit_code == 1
    assert "--metric 'oops': write NAME=VALUE or NAME=V1,V2,..." in str(result.exception)


def passing_value(minimum: float | None, maximum: float | None) -> float:
    if minimum is not None and maximum is not None:
        return (minimum + maximum) / 2
    return minimum if minimum is not None else (maximum or 0) / 2


def test_every_example_canary_is_promoted_with_good_values() -> None:
    from coalmine.api import Canary, load_file

    examples = sorted((CANARY.parents[1]).rglob("*.yaml"))
    canaries = [
        (path, r)
        for path in examples
        for r in load_file(path, skip_other_kinds=True).resources
        if isinstance(r, Canary)
    ]
    assert len(canaries) >= 4
    for path, canary in canaries:
        options = []
        for metric in canary.spec.analysis.metrics:
            value = passing_value(metric.range.min, metric.range.max)
            options += ["-m", f"{metric.name}={value}"]
        result = runner.invoke(app, ["simulate", "-f", str(path), *options])
        assert result.exit_code == 0, (path, result.output)
