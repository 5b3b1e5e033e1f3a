import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coalmine.api import istio
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


def test_the_interval_floor_is_the_one_given(tmp_path: Path) -> None:
    """The floor of the controller or `coalmine up` that will run the canary: 10s by default."""
    fast = (
        (EXAMPLES / "workshop" / "canary.yaml")
        .read_text()
        .replace("interval: 1m", "interval: 2s", 1)
    )
    (tmp_path / "fast.yaml").write_text(fast)
    refused = runner.invoke(app, ["validate", "-f", str(tmp_path / "fast.yaml")])
    assert refused.exit_code == 1
    assert "spec.analysis.interval: must be at least 10s" in refused.output
    assert "lower --min-interval" in refused.output
    accepted = runner.invoke(
        app, ["validate", "--min-interval", "2s", "-f", str(tmp_path / "fast.yaml")]
    )
    assert accepted.exit_code == 0, accepted.output
    bad = runner.invoke(app, ["validate", "--min-interval", "soon", "-f", str(tmp_path)])
    assert bad.exit_code != 0 and "--min-interval" in str(bad.exception)


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


ROUTES = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
    - match: [{uri: {regex: "/[a-z]{1,60}x"}}]
      route: [{destination: {host: web}}]
"""


def test_validate_local_rejects_a_regex_envoy_rejects(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text(ROUTES)
    result = runner.invoke(app, ["validate", "--local", "-f", str(tmp_path / "routes.yaml")])
    assert result.exit_code == 1
    assert "RE2 program size 125 is above Envoy's limit of 100" in result.output


def test_validate_local_asks_envoy_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the model's regex check off, Envoy's own validation still refuses the routes."""
    monkeypatch.setattr(istio, "re2_problem", lambda pattern: None)
    (tmp_path / "routes.yaml").write_text(ROUTES)
    result = runner.invoke(app, ["validate", "--local", "-f", str(tmp_path / "routes.yaml")])
    assert result.exit_code == 1
    assert "envoy data plane: Envoy rejected it: regex '/[a-z]{1,60}x' RE2 program size" in (
        result.output
    )
    fine = ROUTES.replace("{1,60}", "{1,3}")
    (tmp_path / "routes.yaml").write_text(fine)
    result = runner.invoke(app, ["validate", "--local", "-f", str(tmp_path / "routes.yaml")])
    assert result.exit_code == 0, result.output


def test_validate_survives_hostile_files(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    (tmp_path / "deep.yaml").write_text("x: " + "[" * 1000 + "]" * 1000)
    (tmp_path / "dup.yaml").write_text("kind: Canary\nkind: Canary\n")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    result = runner.invoke(app, ["validate", "-f", str(tmp_path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "alias bomb" in result.output
    assert "nested deeper than 64 levels" in result.output
    assert "duplicate key 'kind' (first on line 1)" in result.output
    assert "not UTF-8 text" in result.output
