"""The runner's shell: exit codes, output, what it says when a page is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guide.blocks import Block, Kind, PageError, parse_page
from tests.guide.runner import BlockFailure, Shell, up_options


def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path / "work", tmp_path / "state", "127.0.0.1:18080")


def blocks(text: str) -> list[Block]:
    return [b for b in parse_page(Path("page.md"), text) if b.kind is Kind.RUN]


def test_a_block_that_prints_what_the_page_shows_passes(tmp_path: Path) -> None:
    (block,) = blocks("```sh run\necho one; echo two >&2\n```\n\n```text output\none\ntwo\n```\n")
    assert shell(tmp_path).run(block) == "one\ntwo\n"


def test_a_mismatch_names_page_line_command_expected_and_got(tmp_path: Path) -> None:
    (block,) = blocks("\n```sh run\necho hello\n```\n```text output\ngoodbye\n```\n")
    with pytest.raises(BlockFailure) as failure:
        shell(tmp_path).run(block)
    message = str(failure.value)
    assert message.startswith("page.md:2: output differs from the block at line 5")
    assert "expected line 1: 'goodbye'" in message
    assert "best candidate: 'hello'" in message
    assert "command:\n    echo hello" in message
    assert "expected output:\n    goodbye" in message
    assert "got:\n    hello" in message


def test_exit_codes_are_checked_both_ways(tmp_path: Path) -> None:
    failing, passing = blocks("```sh run exit=1\nexit 1\n```\n```sh run\nfalse\necho after\n```\n")
    assert shell(tmp_path).run(failing) == ""
    with pytest.raises(BlockFailure, match=r"page\.md:4: exit code: expected 0, got 1"):
        shell(tmp_path).run(passing)  # errexit: the first failing command ends the block


def test_exports_carry_over_to_later_blocks_like_a_terminal(tmp_path: Path) -> None:
    first, second = blocks("```sh run\nexport WHERE=here\n```\n```sh run\necho $WHERE\n```\n")
    runner = shell(tmp_path)
    runner.run(first)
    assert runner.run(second) == "here\n"


def test_the_readers_gateway_becomes_the_runners(tmp_path: Path) -> None:
    (block,) = blocks(
        "```sh run\necho http://127.0.0.1:8080/x\n```\n```text output\nhttp://127.0.0.1:8080/x\n```\n"
    )
    assert shell(tmp_path).run(block) == "http://127.0.0.1:18080/x\n"


def test_blocks_see_the_repository_and_the_runtime(tmp_path: Path) -> None:
    (block,) = blocks("```sh run\ntest -f docs/guide/README.md\necho $COALMINE_STATE_DIR\n```\n")
    assert shell(tmp_path).run(block) == f"{tmp_path / 'state'}\n"


def test_up_options_leave_state_and_gateway_to_the_runner() -> None:
    (up,) = parse_page(
        Path("p.md"), "```sh up\ncoalmine up --prometheus --gateway 127.0.0.1:8080\n```\n"
    )
    assert up_options(up) == ("--prometheus",)
    (wrong,) = parse_page(Path("p.md"), "```sh up\ncoalmine apply -f x\n```\n")
    with pytest.raises(PageError, match=r"one `coalmine up \.\.\.` line"):
        up_options(wrong)
