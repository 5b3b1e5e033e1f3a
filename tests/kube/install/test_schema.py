"""The generated schemas are structural, as the API server demands, and say what the models say."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from coalmine.api import gatewayapi
from coalmine.api.alert_provider import AlertProvider
from coalmine.api.canary import Canary
from coalmine.api.common import Model, ObjectMeta, parse_duration
from coalmine.api.metric_template import MetricTemplate
from coalmine.kube.install import schema as schema_module
from coalmine.kube.install.schema import DURATION_PATTERN, SchemaError, structural_schema

MODELS = (Canary, MetricTemplate, AlertProvider)
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
KEYWORDS = {
    "description", "type", "format", "enum", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
    "required", "properties", "additionalProperties", "items", "oneOf",
    "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-validations",
}  # fmt: skip


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for key, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{key}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        yield from nodes(node["items"], f"{path}[]")


def structural_problems(path: str, node: dict[str, Any]) -> Iterator[str]:
    """The rules of a structural schema (Kubernetes docs, "Specifying a structural schema")."""
    if unknown := set(node) - KEYWORDS:
        yield f"{path}: keywords the API server does not take: {sorted(unknown)}"
    if not node.get("x-kubernetes-int-or-string") and node.get("type") not in TYPES:
        yield f"{path}: every node needs a type, got {node.get('type')!r}"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: properties and additionalProperties exclude each other"
    if "exclusiveMinimum" in node and node["exclusiveMinimum"] is not True:
        yield f"{path}: exclusiveMinimum is a boolean in OpenAPI v3.0"
    for option in node.get("oneOf", []):
        if set(option) != {"required"} or not set(option["required"]) <= set(node["properties"]):
            yield f"{path}: a oneOf branch may only require declared properties"
    if node.get("x-kubernetes-list-type") == "map":
        keys = set(node["x-kubernetes-list-map-keys"])
        if not keys <= set(node["items"].get("required", [])):
            yield f"{path}: list-map keys must be required in the items"
    if node.get("x-kubernetes-list-type") == "set" and node["items"].get("type") == "object":
        yield f"{path}: a set holds scalars"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_schema_is_structural(model: type[Model]) -> None:
    schema = structural_schema(model)
    problems = [p for path, node in nodes(schema) for p in structural_problems(path, node)]
    assert problems == []
    assert schema["properties"]["metadata"] == {"type": "object"}  # only the server's own
    assert schema["required"] == ["spec"]


def test_every_pattern_is_re2() -> None:
    """The API server compiles patterns with Go's regexp (RE2): no lookarounds."""
    patterns = {
        node["pattern"]
        for model in MODELS
        for _, node in nodes(structural_schema(model))
        if "pattern" in node
    }
    gateway_api = {  # service.gatewayRefs and service.mirror: the Gateway API's own types
        _pattern(t) for t in (gatewayapi.Group, gatewayapi.Kind, gatewayapi.Namespace,
                              gatewayapi.SectionName)
    }  # fmt: skip
    assert patterns == {DURATION_PATTERN, r"^https?://\S+$", *gateway_api}
    for pattern in patterns:
        re2.compile(pattern)


def test_preserve_unknown_fields_only_where_the_model_passes_data_through() -> None:
    kept = [
        path
        for model in MODELS
        for path, node in nodes(structural_schema(model))
        if node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert kept == [".spec.service.trafficPolicy"]


def test_descriptions_come_from_docstrings_and_say_defaults() -> None:
    analysis = structural_schema(Canary)["properties"]["spec"]["properties"]["analysis"]
    fields = analysis["properties"]
    assert fields["threshold"]["description"].startswith("Failed checks tolerated before rollback")
    assert fields["interval"]["description"] == "Defaults to 1m."
    assert fields["mirror"]["description"] == "Defaults to false."
    assert (
        "Where a canary is in its life"
        in (structural_schema(Canary)["properties"]["status"]["properties"]["phase"]["description"])
    )


def test_optional_fields_are_not_nullable_so_a_null_means_absent() -> None:
    for model in MODELS:
        assert not [path for path, node in nodes(structural_schema(model)) if "nullable" in node]
    target_port = structural_schema(Canary)["properties"]["spec"]["properties"]["service"][
        "properties"
    ]["targetPort"]
    assert target_port == {"x-kubernetes-int-or-string": True}


durations = st.text(alphabet="0123456789hms", max_size=9)


@given(durations)
def test_the_duration_pattern_accepts_what_parse_duration_reads(text: str) -> None:
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert (len(text) >= 1 and re2.search(DURATION_PATTERN, text) is not None) == parsed


class Sample(Model):
    number: int | float


class SampleResource(Model):
    api_version: str
    metadata: ObjectMeta
    spec: Sample


def test_a_type_without_translation_is_a_loud_error() -> None:
    with pytest.raises(SchemaError, match=r"Sample\.number: a union"):
        structural_schema(SampleResource)


class Plain(Model):
    number: int


class PlainResource(Model):
    api_version: str
    metadata: ObjectMeta
    spec: Plain


def test_a_refinement_of_a_missing_field_is_a_loud_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "FIELD_SCHEMA", {(Plain, "numbr"): {"minimum": 0}})
    with pytest.raises(SchemaError, match="Plain: a refinement names 'numbr', which is no field"):
        structural_schema(PlainResource)
    monkeypatch.setattr(schema_module, "FIELD_SCHEMA", {(Plain, "number"): {"minimum": 0}})
    number = structural_schema(PlainResource)["properties"]["spec"]["properties"]["number"]
    assert number == {"type": "integer", "minimum": 0}


def _pattern(annotated: object) -> str:
    """The pattern of an `Annotated[str, Field(pattern=...)]`."""
    [field] = annotated.__metadata__  # type: ignore[attr-defined]
    [constraint] = [m for m in field.metadata if hasattr(m, "pattern")]
    pattern: str = constraint.pattern
    return pattern
