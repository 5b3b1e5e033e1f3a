import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from coalmine.cli.main import app

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def test_valid_examples_exit_zero() -> None:
    result = runner.invoke(app, ["validate", "-f", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert "canary go-demo-7 is valid" in result.output


def test_problems_exit_one_and_name_the_field(tmp_path: Path) -> None:
    bad = (
        (EXAMPLES / "workshop" / "canary.yaml")
        .read_text()
        .replace("stepWeight: 20", "stepWeights: [20, 10]")
    )
    (tmp_path / "bad.yaml").write_text(bad)
    result = runner.invoke(app, ["validate", "-f", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 1
    assert (
        "canary go-demo-7: spec.analysis.stepWeights: must be increasing and at most 100,"
        " got [20, 10]" in result.output
    )


def test_the_console_script_reports_a_missing_file_with_exit_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "coalmine", "validate", "-f", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"{missing}: cannot read: No such file or directory" in done.stderr
