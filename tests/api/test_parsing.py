"""The one safe loader: size, aliases, depth and duplicate keys, for YAML and JSON."""

from __future__ import annotations

import json
import time

import pytest

from coalmine.api.parsing import (
    ParseError,
    ParseLimits,
    check_shape,
    load_json,
    load_yaml_documents,
)

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)
"""The "billion laughs": 9^9 strings from about 700 bytes."""


def refused(text: str, **limits: int) -> str:
    with pytest.raises(ParseError) as caught:
        load_yaml_documents(text, source="f.yaml", limits=ParseLimits(**limits))
    return str(caught.value)


def test_an_alias_bomb_is_refused_quickly_and_says_why() -> None:
    assert len(BOMB) < 800
    started = time.process_time()
    message = refused(BOMB)
    assert time.process_time() - started < 1.0
    assert "aliases expand to more than 200000 values (an alias bomb?)" in message
    assert message.startswith("f.yaml document 1")


def test_aliases_that_expand_to_little_are_fine() -> None:
    documents = load_yaml_documents("base: &b {x: 1}\nuse: *b\nmerged: {<<: *b, y: 2}\n")
    assert documents == [{"base": {"x": 1}, "use": {"x": 1}, "merged": {"x": 1, "y": 2}}]


def test_a_recursive_alias_is_refused() -> None:
    assert "refers to a value that contains it" in refused("a: &a [1, *a]\n")


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    message = refused("x: " + "[" * 5000 + "]" * 5000)
    assert "nested deeper than 64 levels" in message
    assert "line 1" in message


def test_nesting_within_the_limit_parses() -> None:
    assert load_yaml_documents("x: " + "[" * 30 + "]" * 30)


def test_nesting_made_by_aliases_is_refused() -> None:
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 80)]
    assert "aliases nest deeper than 64 levels" in refused("\n".join(lines))


def test_a_duplicate_key_is_refused_naming_the_key_and_both_lines() -> None:
    message = refused("kind: Canary\nspec:\n  a: 1\nspec:\n  b: 2\n")
    assert message == (
        "f.yaml line 4: not valid YAML: duplicate key 'spec' (first on line 2); keep one"
    )


def test_a_key_given_again_by_a_merge_is_not_a_duplicate() -> None:
    assert load_yaml_documents("b: &b {x: 1}\nc: {<<: *b, x: 2}\n")[0]["c"] == {"x": 2}


def test_size_limits_per_request_and_per_document() -> None:
    big = "a: " + "x" * 2000 + "\n"
    assert "at most 1000" in refused(big, max_request_bytes=1000)
    two = big + "---\n" + big
    message = refused(two, max_request_bytes=10_000, max_document_bytes=1500)
    assert "one document may hold at most 1500" in message


def test_not_yaml_names_the_line() -> None:
    assert refused("a: [\nb: c\n").startswith("f.yaml line 3: not valid YAML")


def test_json_bodies_within_limits() -> None:
    assert load_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
    for body, expected in [
        (b"{not json", "not valid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"[" * 100 + b"]" * 100, "nested deeper than 64 levels"),
        (b"\xff\xfe", "not valid JSON"),
        (json.dumps({"x": "y" * 2000}).encode(), "at most 1000"),
    ]:
        with pytest.raises(ParseError, match=expected):
            load_json(body, limits=ParseLimits(max_request_bytes=1000))
    with pytest.raises(ParseError, match="nested deeper than 64 levels"):
        load_json(b"[" * 100_000 + b"]" * 100_000)  # deeper than Python's recursion limit


def test_check_shape_refuses_deep_data_that_arrived_parsed() -> None:
    deep: list[object] = []
    current = deep
    for _ in range(5000):
        inner: list[object] = []
        current.append(inner)
        current = inner
    with pytest.raises(ParseError, match="nested deeper than 64"):
        check_shape(deep)
    with pytest.raises(ParseError, match="more than 10 values"):
        check_shape(list(range(20)), limits=ParseLimits(max_nodes=10))
