"""`coalmine demo` options: wrong values stop it before any process starts, naming the option."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from coalmine.cli.demo import demo
from coalmine.demo.strategies.options import DEFAULT_DETECTION_DELAY, DEFAULT_RPS
from tests.fixtures.cli import invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--strategy", "blue-green"],
            "error: --strategy: unknown strategy 'blue-green'; choose big-bang, rolling, "
            "canary or all",
        ),
        (
            ["--strategy", "all", "--detection-delay", "0"],
            "error: --detection-delay: must be from 1 to 120 seconds, got 0",
        ),
        (["--strategy", "canary", "--rps", "1"], "error: --rps: must be from 10 to 500"),
        (["--interval", "0"], "error: --interval must be between 1 and 60 seconds, got 0"),
    ],
)
def test_a_wrong_option_is_named_and_nothing_starts(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coalmine", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "starting the local runtime" not in done.stdout


def test_help_documents_the_strategies_and_the_detection_delay() -> None:
    text = " ".join(invoke("demo", "--help").output.split())
    for words in ("--strategy", "--detection-delay", "--rps", "big-bang", "Example: coalmine demo"):
        assert words in text


def test_the_command_defaults_are_the_comparisons_defaults() -> None:
    defaults = {name: p.default for name, p in inspect.signature(demo).parameters.items()}
    assert defaults["detection_delay"] == DEFAULT_DETECTION_DELAY
    assert defaults["rps"] == DEFAULT_RPS
