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
        if canary.spec.analysis.judge is not None:
            options = ["--observations", str(path.parent / "judged-good.jsonl")]
        result = runner.invoke(app, ["simulate", "-f", str(path), *options])
        assert result.exit_code == 0, (path, result.output)


JUDGED = CANARY.parents[1] / "canaries" / "judged.yaml"


def observations(name: str) -> str:
    return str(JUDGED.parent / f"judged-{name}.jsonl")


def test_observations_with_more_errors_are_rolled_back_by_the_judge() -> None:
    result = runner.invoke(
        app, ["simulate", "-f", str(JUDGED), "--observations", observations("bad")]
    )
    assert result.exit_code == 1, result.output
    assert "errors: canary 3.17 % vs primary 0.38 % (+2.79 pt, interval +1.12..+" in result.output
    assert "+4.67 at 99.5 %/99 %) > 0.5 pt: rollback" in result.output  # both levels
    assert "> 0.5 pt: rollback" in result.output
    assert result.output.rstrip().endswith(
        "-- verdict: rolled-back at tick 1 (15 ticks in the file)"
    )


def test_observations_json_gives_verdict_tick_and_ticks() -> None:
    import json

    result = runner.invoke(
        app,
        ["simulate", "-f", str(JUDGED), "--observations", observations("good"), "-o", "json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "promoted" and report["tick"] == len(report["ticks"])
    first = report["ticks"][0]
    assert first["tick"] == 1 and first["weight"] == 20
    assert {check["name"] for check in first["judge"]} == {"errors", "latency"}
    assert first["checks"][0]["name"] == "request-success-rate"
    assert [t["decision"] for t in report["ticks"]][-1] == "promote"


def test_a_file_that_ends_before_a_verdict_exits_two(tmp_path: Path) -> None:
    short = tmp_path / "short.jsonl"
    short.write_text(
        '{"primary": {"requests": 40, "errors": 0}, "canary": {"requests": 10, "errors": 0}}\n'
    )
    result = runner.invoke(app, ["simulate", "-f", str(JUDGED), "--observations", str(short)])
    assert result.exit_code == 2, result.output
    assert "-- verdict: undecided (1 ticks in the file)" in result.output


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"primary": {"requests": 4}, "canary": {"requests": -1}}\n')
    result = runner.invoke(app, ["simulate", "-f", str(JUDGED), "--observations", str(bad)])
    assert result.exit_code == 1
    message = f"{bad}:1: canary.requests: must be a whole number of at least 0, got -1"
    assert str(result.exception) == message


def test_fixed_range_metrics_are_computed_from_the_same_observations() -> None:
    """The workshop's Flagger Canary has no judge: its thresholds judge the same file."""
    result = runner.invoke(
        app, ["simulate", "-f", str(CANARY), "--observations", observations("bad")]
    )
    assert "request-success-rate: 9" in result.output
    assert "request-duration: " in result.output


def test_a_judged_canary_needs_observations() -> None:
    result = runner.invoke(app, ["simulate", "-f", str(JUDGED), "-m", "request-success-rate=99"])
    assert result.exit_code == 1
    assert "spec.analysis.judge compares counts per side: give --observations FILE" in str(
        result.exception
    )


def test_a_baseline_side_in_the_observations_is_the_reference(tmp_path: Path) -> None:
    """The primary is healthy, the baseline (same revision, same age as the canary) and the
    canary both fail 3 %: a start-up effect, not the release's fault."""
    import json

    line = {
        "primary": {"requests": 20000, "errors": 20},
        "baseline": {"requests": 5000, "errors": 150},
        "canary": {"requests": 5000, "errors": 150},
    }
    ticks = tmp_path / "baseline.jsonl"
    ticks.write_text("\n".join(json.dumps(line) for _ in range(12)) + "\n")
    result = runner.invoke(app, ["simulate", "-f", str(JUDGED), "--observations", str(ticks)])
    assert "errors: canary 3.00 % vs baseline 3.00 % (+0 pt" in result.output
    assert "< 0.5 pt: advance" in result.output
    assert "rollback" not in result.output
    # no latency histograms in these lines: the latency check holds to the file's end
    assert result.exit_code == 2, result.output
