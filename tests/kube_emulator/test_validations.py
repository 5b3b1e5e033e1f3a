"""List types, oneOf and CEL rules of a CRD schema, gated as the real server gates them."""

from __future__ import annotations

from typing import Any

from tests.kube_emulator.schema import admit

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "interval": {
                    "type": "string",
                    "pattern": "^[0-9]+s$",
                    "x-kubernetes-validations": [
                        {"rule": "duration(self) >= duration('10s')", "message": "at least 10s"}
                    ],
                },
                "low": {"type": "integer"},
                "high": {"type": "integer"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "match": {
                    "type": "object",
                    "properties": {"exact": {"type": "string"}, "prefix": {"type": "string"}},
                    "oneOf": [{"required": ["exact"]}, {"required": ["prefix"]}],
                },
            },
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.low) || !has(self.high) || self.low <= self.high",
                    "message": "low must not exceed high",
                }
            ],
        }
    },
}


def errors(spec: dict[str, Any]) -> list[str]:
    obj = {"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"}, "spec": spec}
    return [str(error) for error in admit(obj, SCHEMA)[2]]


def test_a_failed_rule_names_the_field_and_the_type() -> None:
    assert errors({"low": 5, "high": 1}) == [
        'spec: Invalid value: "object": low must not exceed high'
    ]
    assert errors({"interval": "5s"}) == ['spec.interval: Invalid value: "string": at least 10s']
    assert errors({"interval": "20s", "low": 1, "high": 5}) == []


def test_a_pattern_error_does_not_stop_the_rules_so_conversions_fail_beside_it() -> None:
    """What the real server answered to the old interval rule: the reason the CRDs have none."""
    found = errors({"interval": "ten"})
    assert found[0].startswith('spec.interval: Invalid value: "ten": spec.interval in body')
    assert len(found) == 2 and found[1].startswith('spec.interval: Invalid value: "string":')


def test_a_type_error_blocks_the_rules() -> None:
    found = errors({"low": "five", "high": 1})
    assert found[0].startswith('spec.low: Invalid value: "string"')
    assert found[1] == (
        '<nil>: Invalid value: "null": some validation rules were not checked because the'
        " object was invalid; correct the existing errors to complete validation"
    )
    assert len(found) == 2


def test_sets_and_one_of() -> None:
    assert errors({"tags": ["a", "b", "a"]}) == ['spec.tags[2]: Duplicate value: "a"']
    assert errors({"match": {"exact": "a", "prefix": "b"}}) == [
        "spec.match: Invalid value: spec.match must validate one and only one schema (oneOf)."
        " Found 2 valid alternatives"
    ]
    assert errors({"match": {"exact": "a"}}) == []


def test_a_verdict_is_remembered_but_paths_are_not() -> None:
    assert errors({"low": 5, "high": 1}) == errors({"low": 5, "high": 1})
