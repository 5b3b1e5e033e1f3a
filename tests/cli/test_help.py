"""Every command explains itself: --help with an `Example:` line, and --version."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer

from coalmine import __version__
from coalmine.cli.main import app
from tests.fixtures.cli import invoke


def commands() -> list[tuple[str, ...]]:
    """The path of every registered command, subcommands of groups included."""
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(typer.main.get_command(app), ())
    return found


def test_the_walk_finds_the_pipeline_commands_and_the_groups_subcommands() -> None:
    paths = set(commands())
    for path in [("deploy",), ("wait",), ("status",), ("promote",), ("abort",), ("pause",)]:
        assert path in paths
    assert {("manual", "init"), ("manual", "split"), ("manual", "finish")} <= paths
    assert len(paths) >= 29


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    examples = [line.strip() for line in result.output.splitlines() if "Example:" in line]
    assert examples, f"coalmine {' '.join(path)} --help has no Example: line"
    assert f"coalmine {path[0]}" in examples[0], examples[0]


def test_wait_help_documents_the_exit_codes() -> None:
    text = " ".join(invoke("wait", "--help").output.split())
    for code in ("0 promoted", "1 rolled back", "2 no verdict before --timeout", "3 the canary"):
        assert code in text


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coalmine", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"coalmine {__version__}"


def test_completion_is_offered() -> None:
    result = invoke("--help")
    assert "--install-completion" in result.output
    assert "--show-completion" in result.output
