"""Flagger's checksum of a tracked ConfigMap or Secret (`status.trackedConfigs`).

Flagger (`pkg/canary/config_tracker.go` `checksum`) hashes Go's `json.Marshal` of the
object's `data`: map keys sorted, no spaces, `<`, `>`, `&`, U+2028 and U+2029 escaped
(Go's HTML-safe default), control characters other than `\\n`, `\\r`, `\\t` as
`\\u00XX` (so `\\b` and `\\f` too, which Python's json writes short), the rest as UTF-8.
"""

from __future__ import annotations

import hashlib

import pytest

from coalmine.api.config_tracking import ConfigRef, flagger_checksum, go_json, tracked_checksums


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        ({}, "{}"),
        ({"b": "2", "a": "1"}, '{"a":"1","b":"2"}'),
        ({"html": "<a>&</a>"}, '{"html":"\\u003ca\\u003e\\u0026\\u003c/a\\u003e"}'),
        ({"ctl": "\b\f\n\r\t\x01\x1f"}, '{"ctl":"\\u0008\\u000c\\n\\r\\t\\u0001\\u001f"}'),
        ({"quote": 'say "hi" \\ bye'}, '{"quote":"say \\"hi\\" \\\\ bye"}'),
        ({"text": "café \u2028 ✓"}, '{"text":"café \\u2028 ✓"}'),
        ({"é": "1", "z": "2", "a": "3"}, '{"a":"3","z":"2","é":"1"}'),
    ],
)
def test_go_json_writes_what_go_marshals(value: object, expected: str) -> None:
    assert go_json(value) == expected


def test_the_checksum_is_flaggers_over_data() -> None:
    sha = hashlib.sha256(b'{"greeting":"hello"}').hexdigest()
    assert flagger_checksum({"data": {"greeting": "hello"}, "metadata": {"labels": {}}}) == sha[:16]
    assert flagger_checksum({"kind": "ConfigMap"}) == hashlib.sha256(b"null").hexdigest()[:16]


def test_binary_data_is_part_of_the_checksum() -> None:
    plain = flagger_checksum({"data": {"a": "1"}})
    with_binary = flagger_checksum({"data": {"a": "1"}, "binaryData": {"logo": "AAEC"}})
    other_binary = flagger_checksum({"data": {"a": "1"}, "binaryData": {"logo": "AAED"}})
    assert len({plain, with_binary, other_binary}) == 3


def test_tracked_checksums_are_keyed_as_flagger_keys_them() -> None:
    configs = {
        ConfigRef("secret", "db"): {"data": {"password": "aHVudGVyMg=="}},
        ConfigRef("configmap", "settings"): {"data": {"greeting": "hello"}},
    }
    assert tracked_checksums(configs) == {
        "configmap/settings": flagger_checksum({"data": {"greeting": "hello"}}),
        "secret/db": flagger_checksum({"data": {"password": "aHVudGVyMg=="}}),
    }
