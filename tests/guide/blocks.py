"""The guide's command blocks: which to run, what they must print (docs/guide/README.md).

A page marks each shell block by its fence's info string:

    ```sh up            the page's `coalmine up` (the runner starts it with these options)
    ```sh run           run in order; must exit 0
    ```sh run exit=1    run in order; must exit 1
    ```sh cluster       needs a cluster: checked for syntax and parsed, never run
    ```text output      right after a run block: what it must print (`...` elides)

An `sh` block with no mark is an error, so a command cannot quietly escape the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Block", "Kind", "Mismatch", "PageError", "match_output", "parse_page"]

ELIDED = "..."


class Kind(StrEnum):
    UP = "up"
    """The page's `coalmine up` command line."""
    RUN = "run"
    """Run against the page's runtime, in order."""
    CLUSTER = "cluster"
    """For readers with a cluster: checked, not run."""


class PageError(ValueError):
    """A block the runner cannot understand; names the page and line."""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """Line number of the opening fence (1-based)."""
    kind: Kind
    code: str
    exit_code: int = 0
    expected: str | None = None
    """The `text output` block that follows, if any."""
    expected_line: int = 0

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"


@dataclass(frozen=True)
class _Fence:
    line: int
    info: str
    body: str


_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def _fences(text: str) -> list[tuple[_Fence, int]]:
    """Every fenced block with the line after its closing fence."""
    lines = text.splitlines()
    found: list[tuple[_Fence, int]] = []
    index = 0
    while index < len(lines):
        opened = _OPEN.match(lines[index])
        if opened is None:
            index += 1
            continue
        indent, fence = len(opened["indent"]), opened["fence"]
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        found.append((_Fence(index + 1, opened["info"].strip(), "\n".join(body)), end + 1))
        index = end + 1
    return found


def parse_page(path: Path, text: str | None = None) -> list[Block]:
    """The page's marked shell blocks, each with the output block that follows it."""
    text = path.read_text() if text is None else text
    lines = text.splitlines()
    fences = _fences(text)
    blocks: list[Block] = []
    for position, (fence, after) in enumerate(fences):
        words = fence.info.split()
        if not words or words[0] not in ("sh", "bash", "shell"):
            continue
        kind, exit_code = _marks(path, fence, words[1:])
        expected, expected_line = None, 0
        following = fences[position + 1][0] if position + 1 < len(fences) else None
        if following is not None and following.info.split() == ["text", "output"]:
            between = lines[after : following.line - 1]
            if all(not line.strip() for line in between):
                expected, expected_line = following.body, following.line
        if expected is not None and kind is not Kind.RUN:
            raise PageError(f"{path.name}:{expected_line}: only a `sh run` block has an output")
        blocks.append(Block(path, fence.line, kind, fence.body, exit_code, expected, expected_line))
    _refuse_orphan_outputs(path, fences, blocks)
    return blocks


def _marks(path: Path, fence: _Fence, marks: list[str]) -> tuple[Kind, int]:
    where = f"{path.name}:{fence.line}"
    if not marks or marks[0] not in {k.value for k in Kind}:
        raise PageError(
            f"{where}: mark the shell block `sh run`, `sh cluster` or `sh up` "
            f"(got {fence.info!r}); text that is not a command goes in a `text` block"
        )
    kind = Kind(marks[0])
    exit_code = 0
    for mark in marks[1:]:
        name, _, value = mark.partition("=")
        if kind is Kind.RUN and name == "exit" and value.isdigit():
            exit_code = int(value)
        else:
            raise PageError(f"{where}: unknown mark {mark!r} (a run block takes exit=N)")
    return kind, exit_code


def _refuse_orphan_outputs(
    path: Path, fences: list[tuple[_Fence, int]], blocks: list[Block]
) -> None:
    """A `text output` block right after a run block checks it; anywhere else it would
    check nothing, so it is refused."""
    attached = {block.expected_line for block in blocks}
    for fence, _ in fences:
        if fence.info.split() == ["text", "output"] and fence.line not in attached:
            raise PageError(
                f"{path.name}:{fence.line}: a `text output` block must follow a `sh run` block"
                " with nothing but blank lines between"
            )


@dataclass(frozen=True)
class Mismatch:
    """Where expected output and real output part."""

    expected_line: int
    """0-based line of the expected block that found no match."""
    expected: str
    got: str

    def explain(self) -> str:
        return (
            f"expected line {self.expected_line + 1}: {self.expected!r}\n"
            f"  best candidate: {self.got!r}"
        )


def _normal(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _line_matches(pattern: str, line: str) -> bool:
    if ELIDED not in pattern:
        return pattern == line
    parts = [re.escape(part) for part in pattern.split(ELIDED)]
    return re.fullmatch(".*".join(parts), line) is not None


def match_output(expected: str, got: str) -> Mismatch | None:
    """None when `got` shows what `expected` shows.

    Lines compare after trailing spaces are dropped. A line that is only `...` stands for
    any number of lines (none included); `...` inside a line for any text in that line.
    """
    want, have = _normal(expected), _normal(got)
    reachable = {0}  # the lines of `got` where the next expected line may start
    for i, pattern in enumerate(want):
        if pattern.strip() == ELIDED:
            following = set(range(min(reachable), len(have) + 1))
        else:
            following = {
                j + 1 for j in reachable if j < len(have) and _line_matches(pattern, have[j])
            }
        if not following:
            start = min(reachable)
            return Mismatch(i, pattern, have[start] if start < len(have) else "(end of output)")
        reachable = following
    if len(have) in reachable:
        return None
    return Mismatch(len(want), "(end of expected output)", have[min(reachable)])
