"""Check a cluster-only block without a cluster: shell syntax, and each command parsed.

- the whole block: `bash -n`;
- `coalmine ...`: parsed by the CLI itself (click's parser: the command exists, its
  options and arguments are valid); `coalmine install --dry-run` needs no cluster, so it
  is run and must exit 0;
- `kubectl ...`, `helm ...`: run with `--help` appended, which makes them parse every flag
  of the command (an unknown flag fails) without reaching a cluster; `-f FILE` under
  examples/, deploy/, docs/ or scripts/: the file exists in the repository;
- anything else (istioctl, curl, watch): syntax only.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from functools import cache
from typing import Any

from tests.guide.blocks import Block
from tests.guide.runner import LINKED, REPO, BlockFailure, Shell, commands, logical_lines

__all__ = ["check_cluster_block", "parse_coalmine"]

HELPED = ("kubectl", "helm")


def check_cluster_block(block: Block, shell: Shell) -> list[str]:
    """Check the block; return what was checked per command (raise BlockFailure)."""
    syntax = subprocess.run(
        ["bash", "-n"], input=block.code, capture_output=True, text=True, check=False
    )
    if syntax.returncode != 0:
        raise BlockFailure(f"{block.where}: bash -n: {syntax.stderr.strip()}\n{block.code}")
    checked: list[str] = []
    for line in logical_lines(block.code):
        for words in commands(line):
            checked.append(_check_command(block, shell, words))
    return checked


def _check_command(block: Block, shell: Shell, words: list[str]) -> str:
    program = words[0]
    _check_files(block, words)
    if program == "coalmine":
        problem = parse_coalmine(words[1:])
        if problem:
            raise BlockFailure(f"{block.where}: {' '.join(words)}\n  {problem}")
        if words[1:2] == ["install"] and "--dry-run" in words:
            _run(block, shell, words)
            return f"ran {' '.join(words)}"
        return f"parsed {' '.join(words)}"
    if program in HELPED:
        if shutil.which(program) is None:
            raise BlockFailure(f"{block.where}: {program} is not installed (scripts/setup-tools)")
        _run(block, shell, [*words, "--help"])
        return f"flags of {' '.join(words)}"
    return f"syntax of {' '.join(words)}"


def _check_files(block: Block, words: list[str]) -> None:
    for flag, value in itertools.pairwise(words):
        ours = value.split("/")[0] in LINKED
        if flag in ("-f", "--filename") and ours and not (REPO / value).exists():
            raise BlockFailure(
                f"{block.where}: {' '.join(words)}: no file {value} in the repository"
            )


def _run(block: Block, shell: Shell, words: list[str]) -> None:
    done = subprocess.run(
        words,
        cwd=shell.workdir,
        env=shell.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise BlockFailure(
            f"{block.where}: {' '.join(words)} exited {done.returncode}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


@cache
def _root() -> Any:
    """The CLI's root command (typer's own copy of click: its classes are not click's)."""
    from typer.main import get_command

    from coalmine.cli.main import app

    return get_command(app)


def parse_coalmine(args: list[str]) -> str:
    """Why the CLI would refuse these arguments ('' when it takes them), without running."""
    command, name, rest = _root(), "coalmine", list(args)
    while hasattr(command, "list_commands"):  # a group
        if not rest:
            return f"{name}: a subcommand is missing"
        sub = command.get_command(command.context_class(command, info_name=name), rest[0])
        if sub is None:
            return f"{name}: no such command {rest[0]!r}"
        command, name, rest = sub, f"{name} {rest[0]}", rest[1:]
    if "--help" in rest or "-h" in rest:
        return ""
    try:
        with command.make_context(name, rest):
            return ""
    except Exception as error:  # the parser's UsageError, BadParameter, ...
        if not hasattr(error, "format_message"):
            raise
        return f"{name}: {error.format_message()}"
