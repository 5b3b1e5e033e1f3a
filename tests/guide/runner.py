"""Run a guide page as a reader would: its `coalmine up`, then its run blocks in order.

Each page gets a fresh `coalmine up` (a real one, `coalmine.testing.up.UpProcess`) on free
ports with its own state directory. The page's commands are written for a reader's
`coalmine up` on 127.0.0.1:8080: the runner puts its own gateway address in their place,
in the commands and in the output they must print. Each run block runs in `bash` (errexit,
pipefail) in a scratch directory where `examples`, `deploy`, `docs` and `scripts` are the
repository's, with the venv's `coalmine` first on PATH and `COALMINE_STATE_DIR` pointing at
the runtime; variables a block exports are there for the blocks after it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.guide.blocks import Block, PageError, match_output

__all__ = ["LINKED", "READER_GATEWAY", "REPO", "BlockFailure", "Shell", "up_options"]

REPO = Path(__file__).resolve().parents[2]
READER_GATEWAY = "127.0.0.1:8080"
"""Where a reader's `coalmine up` listens; the pages use it literally."""
BLOCK_TIMEOUT = 240.0
"""Seconds one block may run (a canary analysis included)."""
LINKED = ("examples", "deploy", "docs", "scripts")


class BlockFailure(AssertionError):
    """A block did not do what its page says: page, line, command, expected and got."""


def up_options(block: Block) -> tuple[str, ...]:
    """The options of the page's `coalmine up` line, less those the runner sets itself
    (the gateway: UpProcess gives its own)."""
    words = shlex.split(block.code, comments=True)
    if words[:2] != ["coalmine", "up"]:
        raise PageError(f"{block.where}: an `sh up` block holds one `coalmine up ...` line")
    options = words[2:]
    if "--state-dir" in options:
        raise PageError(f"{block.where}: leave --state-dir to the runner")
    if "--gateway" in options:
        at = options.index("--gateway")
        del options[at : at + 2]
    return tuple(options)


@dataclass
class Shell:
    """Where a page's run blocks run: a scratch directory and an environment."""

    workdir: Path
    state_dir: Path
    gateway: str

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in LINKED:
            link = self.workdir / name
            if not link.exists():
                link.symlink_to(REPO / name)
        self._groups: list[int] = []

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        venv_bin = str(Path(sys.executable).parent)
        env.update(
            PATH=venv_bin + os.pathsep + env.get("PATH", ""),
            COALMINE_STATE_DIR=str(self.state_dir),
            NO_COLOR="1",
            TERM="dumb",
            COLUMNS="120",
        )
        env.pop("KUBECONFIG", None)
        env["HOME"] = str(self.workdir)  # no ~/.kube/config of the machine's user
        return env

    def localize(self, text: str) -> str:
        return text.replace(READER_GATEWAY, self.gateway)

    def execute(self, block: Block) -> tuple[int, str]:
        """Run the block in bash; its exit code and output (stdout and stderr together).

        What a block exports is kept for the next ones, as in a reader's terminal."""
        exports = self.workdir.parent / "exports.sh"
        script = (
            f"source {shlex.quote(str(exports))} 2>/dev/null || true\n"
            f"trap 'export -p > {shlex.quote(str(exports))}' EXIT\n"
            "set -eo pipefail\n" + self.localize(block.code) + "\n"
        )
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.workdir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._groups.append(process.pid)
        try:
            output, _ = process.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill(process.pid)
            output, _ = process.communicate()
            raise BlockFailure(
                self._report(block, f"timed out after {BLOCK_TIMEOUT:g}s", output)
            ) from None
        return process.returncode, output

    def run(self, block: Block) -> str:
        """Run the block; raise BlockFailure unless its exit code and output are the page's."""
        code, output = self.execute(block)
        if code != block.exit_code:
            what = f"exit code: expected {block.exit_code}, got {code}"
            raise BlockFailure(self._report(block, what, output))
        if block.expected is not None:
            mismatch = match_output(self.localize(block.expected), output)
            if mismatch is not None:
                what = f"output differs from the block at line {block.expected_line}\n  "
                raise BlockFailure(self._report(block, what + mismatch.explain(), output))
        return output

    def close(self) -> None:
        """End what the blocks left running (a load in the background), group by group."""
        for group in self._groups:
            self._kill(group)

    @staticmethod
    def _kill(group: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)

    @staticmethod
    def _report(block: Block, what: str, output: str) -> str:
        return (
            f"{block.where}: {what}\n"
            f"command:\n{_indent(block.code)}\n"
            f"expected output:\n{_indent(block.expected or '(not checked)')}\n"
            f"got:\n{_indent(output)}"
        )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()) or "    (nothing)"


def logical_lines(code: str) -> Iterator[str]:
    """The block's lines with backslash continuations joined, comments and blanks skipped."""
    pending = ""
    for raw in code.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            yield line
    if pending.strip():
        yield pending.strip()


def commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line, split at `|`, `&&`, `||`, `;`, `&`, with
    redirections (`> file`, `2>&1`) left out."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    current: list[str] = []
    redirected = False
    for token in lexer:
        if redirected:
            redirected = False
            continue
        if token and set(token) <= set("|&;()<>"):
            if "<" in token or ">" in token:
                if current and current[-1].isdigit():
                    current.pop()  # the descriptor of 2>...
                redirected = True
                continue
            if current:
                yield current
            current = []
            continue
        current.append(token)
    if current:
        yield current
