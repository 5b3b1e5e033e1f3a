"""Kubernetes structural schemas generated from the resource models, so CRDs cannot drift.

The route: pydantic's JSON schema of a model (which knows types, required fields,
enums and `Field(...)` constraints), plus what pydantic cannot see (durations, and the
validators restated in `kube.install.refinements`), rewritten into the dialect the API server
accepts (a "structural schema"):

- no `$ref`: definitions are inlined;
- no `anyOf` with null: an optional field is simply not required. No field is
  `nullable`, so the API server drops an explicit null before validating, the same
  meaning the models give it (null and absent are both None);
- `int | str` becomes `x-kubernetes-int-or-string`;
- a free-form mapping (`dict[str, Any]`, such as `trafficPolicy`) keeps its content with
  `x-kubernetes-preserve-unknown-fields`; everything else declares every field, so the
  API server prunes, or with strict field validation rejects, unknown ones;
- field docstrings become `description`s (what `kubectl explain` prints).

Anything pydantic emits that has no such translation raises `SchemaError` naming the
model and field, so a new model feature is noticed when the CRDs are regenerated.
"""

from __future__ import annotations

import copy
import sys
import typing
from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from coalmine.api.common import Duration, Model
from coalmine.errors import CoalmineError
from coalmine.kube.install.refinements import FIELD_SCHEMA, MODEL_RULES, MODEL_SCHEMA

__all__ = ["DURATION_PATTERN", "SchemaError", "structural_schema"]

Schema = dict[str, Any]

DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
"""The durations `api.common.parse_duration` reads, in RE2 syntax (the API server's).

With `minLength: 1` it accepts the same strings, except that the API server does not
strip surrounding spaces the way the models do (YAML already strips unquoted ones).
"""

_DURATION_CHECK = typing.get_args(Duration)[1].func
_KEPT = frozenset(
    {
        "type",
        "description",
        "format",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "required",
    }
)
_DROPPED = frozenset({"title", "default", "additionalProperties"})


class SchemaError(CoalmineError):
    """A model uses a type that has no structural-schema translation here."""


class _JsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema, with durations marked: pydantic sees only a string."""

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        if schema["function"]["function"] is _DURATION_CHECK:
            return {"type": "string", "minLength": 1, "pattern": DURATION_PATTERN}
        return super().function_after_schema(schema)


def structural_schema(model: type[Model]) -> Schema:
    """The structural schema of one top-level resource model (Canary, MetricTemplate, ...)."""
    source = model.model_json_schema(by_alias=True, schema_generator=_JsonSchema)
    converter = _Converter(source.pop("$defs", {}), _models_by_name(model))
    root = converter.model_object(source, model.__name__)
    properties = root["properties"]
    properties["apiVersion"] = {"type": "string", "description": "The group and version."}
    properties["kind"] = {"type": "string", "description": f"Always {model.__name__}."}
    properties["metadata"] = {"type": "object"}  # the API server owns its schema
    root["required"] = [name for name in root.get("required", []) if name == "spec"]
    root["description"] = _module_summary(model)
    return _ordered(root)


def _module_summary(model: type[Model]) -> str:
    doc = sys.modules[model.__module__].__doc__ or model.__name__
    return doc.strip().splitlines()[0]


def _models_by_name(model: type[Model]) -> dict[str, type[Model]]:
    """Every model reachable from `model`, by class name (pydantic's `$defs` keys)."""
    found: dict[str, type[Model]] = {}
    pending: list[Any] = [model]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, Model):
            if annotation.__name__ in found:
                continue
            found[annotation.__name__] = annotation
            pending.extend(info.annotation for info in annotation.model_fields.values())
        else:
            pending.extend(typing.get_args(annotation))
    return found


class _Converter:
    """Rewrites one model's JSON schema; `defs` are pydantic's `$defs` of that model."""

    def __init__(self, defs: Mapping[str, Schema], models: Mapping[str, type[Model]]) -> None:
        self.defs = defs
        self.models = models

    def model_object(self, node: Schema, name: str) -> Schema:
        """An object schema of a model, with that model's refinements added."""
        model = self.models.get(name)
        if model is None:
            raise SchemaError(f"{name}: an object schema that is no coalmine model")
        out = self.plain(node, name)
        for (owner, field), extra in FIELD_SCHEMA.items():
            if owner is not model:
                continue
            if field not in out.get("properties", {}):
                raise SchemaError(f"{name}: a refinement names {field!r}, which is no field")
            _merge(out["properties"][field], extra, f"{name}.{field}")
        if model in MODEL_SCHEMA:
            _merge(out, MODEL_SCHEMA[model], name)
        if model in MODEL_RULES:
            rules = [rule.to_schema() for rule in MODEL_RULES[model]]
            out.setdefault("x-kubernetes-validations", []).extend(rules)
        return out

    def convert(self, node: Schema, where: str) -> Schema:
        """Any schema node: resolves `$ref` and optional unions, then translates."""
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            target = self.defs[name]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target.get("type") == "object":
                return _with_description(self.model_object(target, name), siblings)
            return _with_description(self.convert(target, where), siblings)
        if "anyOf" in node:
            return self._union(node, where)
        return self.plain(node, where)

    def plain(self, node: Schema, where: str) -> Schema:
        unknown = set(node) - _KEPT - _DROPPED - {"const", "items", "properties"}
        unknown -= {"exclusiveMinimum", "exclusiveMaximum"}
        if unknown:
            raise SchemaError(f"{where}: no structural translation for {sorted(unknown)}")
        out: Schema = {key: copy.deepcopy(node[key]) for key in node if key in _KEPT}
        _with_description(out, node)
        if "const" in node:
            out["enum"] = [node["const"]]
        for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if bound in node:
                out[plain], out[bound] = node[bound], True
        if "items" in node:
            out["items"] = self.convert(node["items"], f"{where}[]")
        if "properties" in node:
            out["properties"] = {
                key: self.convert(value, f"{where}.{key}")
                for key, value in node["properties"].items()
            }
        self._additional(node, out, where)
        return out

    def _additional(self, node: Schema, out: Schema, where: str) -> None:
        additional = node.get("additionalProperties")
        if additional is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
        elif isinstance(additional, dict):
            out["additionalProperties"] = self.convert(additional, f"{where}.*")
        elif node.get("type") == "object" and "properties" not in node and additional is None:
            out["x-kubernetes-preserve-unknown-fields"] = True  # dict[str, Any]

    def _union(self, node: Schema, where: str) -> Schema:
        members = [m for m in node["anyOf"] if m.get("type") != "null"]
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        if len(members) == 1:
            return _with_description(self.convert(members[0], where), outer)
        if sorted(m.get("type", "") for m in members) == ["integer", "string"]:
            return _with_description({"x-kubernetes-int-or-string": True}, outer)
        raise SchemaError(f"{where}: a union of {members} has no structural schema")


def _with_description(out: Schema, source: Mapping[str, Any]) -> Schema:
    """Carry the field's docstring over, and say the default where it is a plain value.

    A field without a docstring keeps the description of its type (a model's or an
    enum's class docstring).
    """
    text = (source.get("description") or out.get("description", "")).strip()
    default = source.get("default")
    if isinstance(default, bool):
        text = f"{text} Defaults to {str(default).lower()}.".strip()
    elif isinstance(default, int | float | str) and default != "":
        text = f"{text} Defaults to {default}.".strip()
    if text:
        out["description"] = text
    return out


def _merge(target: Schema, extra: Mapping[str, Any], where: str) -> None:
    """Deep-merge refinements; a list replaces, except validation rules, which add up."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, f"{where}.{key}")
        elif key == "x-kubernetes-validations":
            target.setdefault(key, []).extend(copy.deepcopy(value))
        elif isinstance(value, Mapping) and key in target:
            raise SchemaError(f"{where}.{key}: cannot merge {value!r} into {target[key]!r}")
        else:
            target[key] = copy.deepcopy(value)


_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "oneOf",
    "x-kubernetes-validations",
)


def _ordered(node: Schema) -> Schema:
    """The same schema with its keywords in one fixed order, so generated YAML reads well."""
    out = {key: node[key] for key in sorted(node, key=_ORDER.index)}
    if "properties" in out:
        out["properties"] = {key: _ordered(value) for key, value in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _ordered(out[key])
    return out
