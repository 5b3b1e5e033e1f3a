"""The guide's block parser and output matcher, on small pages written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guide.blocks import Kind, PageError, match_output, parse_page
from tests.guide.cluster import parse_coalmine
from tests.guide.runner import commands, logical_lines

PAGE = Path("page.md")


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_page(PAGE, text)


def test_marked_blocks_are_found_in_order_with_their_output() -> None:
    blocks = parse(
        "# Title\n\n```sh up\ncoalmine up\n```\n\n```sh run\necho hi\n```\n\n"
        "```text output\nhi\n```\n\n```sh run exit=1\nfalse\n```\n"
        "```yaml\na: 1\n```\n```sh cluster\nkubectl get pods\n```\n"
    )
    assert [(b.kind, b.line, b.code, b.exit_code) for b in blocks] == [
        (Kind.UP, 3, "coalmine up", 0),
        (Kind.RUN, 7, "echo hi", 0),
        (Kind.RUN, 15, "false", 1),
        (Kind.CLUSTER, 21, "kubectl get pods", 0),
    ]
    assert blocks[1].expected == "hi"
    assert blocks[1].expected_line == 11
    assert blocks[2].expected is None


def test_an_output_block_belongs_to_the_run_block_right_before_it() -> None:
    with pytest.raises(
        PageError, match=r"page\.md:5: a `text output` block must follow a `sh run`"
    ):
        parse("```sh run\necho a\n```\nSome words.\n```text output\na\n```\n")
    with pytest.raises(PageError, match=r"page\.md:4: only a `sh run` block has an output"):
        parse("```sh cluster\nls\n```\n```text output\na\n```\n")


def test_an_unmarked_shell_block_is_refused_naming_page_and_line() -> None:
    with pytest.raises(PageError, match=r"page.md:3: mark the shell block `sh run`"):
        parse("text\n\n```sh\ncoalmine get canaries\n```\n")


def test_unknown_marks_are_refused() -> None:
    with pytest.raises(PageError, match="unknown mark 'exit=one'"):
        parse("```sh run exit=one\nfalse\n```\n")
    with pytest.raises(PageError, match="unknown mark 'exit=1'"):
        parse("```sh cluster exit=1\nfalse\n```\n")


def test_indented_fences_inside_lists_lose_their_indent() -> None:
    (block,) = parse("1. Apply:\n\n   ```sh run\n   coalmine apply -f x.yaml\n   ```\n")
    assert block.code == "coalmine apply -f x.yaml"


def test_longer_fences_hold_shorter_ones() -> None:
    (block,) = parse("````sh run\ncat <<'X'\n```\nX\n````\n")
    assert block.code == "cat <<'X'\n```\nX"


def test_output_matches_line_by_line_without_trailing_spaces() -> None:
    assert match_output("a\nb", "a  \nb\n\n") is None
    mismatch = match_output("a\nb", "a\nc")
    assert mismatch is not None
    assert (mismatch.expected_line, mismatch.expected, mismatch.got) == (1, "b", "c")


def test_an_elided_line_stands_for_any_lines_even_none() -> None:
    assert match_output("start\n...\nend", "start\nx\ny\nend") is None
    assert match_output("start\n...\nend", "start\nend") is None
    assert match_output("...\nend", "a\nb\nend") is None
    assert match_output("start\n...", "start\nmore") is None
    mismatch = match_output("start\n...\nend", "start\nx")
    assert mismatch is not None and mismatch.expected == "end"


def test_elided_text_inside_a_line_stands_for_any_text() -> None:
    assert (
        match_output("12:... go-demo-7: promoted (exit 0)", "12:03:44 go-demo-7: promoted (exit 0)")
        is None
    )
    assert match_output("a...b", "ab") is None
    assert match_output("exit (1)...", "exit (1) done") is None
    assert match_output("a...b", "a b c") is not None


def test_output_longer_than_shown_is_a_mismatch_unless_elided() -> None:
    mismatch = match_output("a", "a\nb")
    assert mismatch is not None
    assert (mismatch.expected, mismatch.got) == ("(end of expected output)", "b")
    assert match_output("a\n...", "a\nb") is None


def test_regex_characters_in_output_are_plain_text() -> None:
    assert match_output("weight (20%) [x]...", "weight (20%) [x] ok") is None
    assert match_output("a.b", "axb") is not None


def test_continued_lines_and_comments() -> None:
    code = "# a comment\ncoalmine deploy x \\\n  --wait\n\necho ok  # trailing\n"
    assert list(logical_lines(code)) == ["coalmine deploy x    --wait", "echo ok  # trailing"]


def test_commands_are_split_at_pipes_and_lists_without_redirections() -> None:
    line = "coalmine install --dry-run -o yaml | kubectl apply -f - && echo 'a | b' 2>&1 > out # c"
    assert list(commands(line)) == [
        ["coalmine", "install", "--dry-run", "-o", "yaml"],
        ["kubectl", "apply", "-f", "-"],
        ["echo", "a | b"],
    ]


def test_coalmine_commands_are_parsed_by_the_cli_itself() -> None:
    assert parse_coalmine(["manual", "split", "go-demo-7", "--canary", "20", "-n", "x"]) == ""
    assert "no such command 'splitt'" in parse_coalmine(["manual", "splitt", "go-demo-7"])
    assert "No such option" in parse_coalmine(["deploy", "go-demo-7", "--wiat"])
    assert "Missing argument" in parse_coalmine(["wait"])
