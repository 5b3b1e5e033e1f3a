"""The parts of CRD validation the emulator leaves out, done the way the API server does them.

`tests/kube_emulator` prunes and checks types, enums, required fields, bounds and
patterns; it does not run CEL rules (`x-kubernetes-validations`), `oneOf`, or the
uniqueness that `x-kubernetes-list-type: set | map` implies. `extra_errors` does, so a
test can tell what a real API server would answer. CEL runs on cel-python with the one
Kubernetes list function the CRDs use (`isSorted`) added; values reach CEL typed by the
schema, as in Kubernetes (a `number` field is a double even when written as 7).

`admit(obj, crd)` is the whole verdict: the emulator's schema checks, then these.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any

import celpy
from celpy import celtypes

from tests.kube_emulator import schema as emulator_schema

Schema = dict[str, Any]


def _is_sorted(items: celtypes.ListType) -> celtypes.BoolType:
    """Kubernetes' `<list>.isSorted()` (k8s.io/apiserver/pkg/cel/library/lists.go)."""
    return celtypes.BoolType(all(a <= b for a, b in itertools.pairwise(items)))


@functools.cache
def compile_rule(rule: str) -> celpy.Runner:
    """A runnable CEL program; raises celpy's CELParseError on a rule that does not parse."""
    env = celpy.Environment()
    return env.program(env.compile(rule), functions={"isSorted": _is_sorted})


def cel_value(value: Any, schema: Schema) -> Any:
    """A JSON value as the CEL value Kubernetes makes of it under `schema`."""
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        return celpy.json_to_cel(value)
    if kind == "number":
        return celtypes.DoubleType(float(value))
    if kind == "integer":
        return celtypes.IntType(int(value))
    if kind == "array":
        return celtypes.ListType([cel_value(item, schema.get("items", {})) for item in value])
    if kind == "object":
        return celtypes.MapType(
            {celtypes.StringType(k): cel_value(v, _child(schema, k)) for k, v in value.items()}
        )
    return celpy.json_to_cel(value)


def _child(schema: Schema, key: str) -> Schema:
    if key in schema.get("properties", {}):
        return dict(schema["properties"][key])
    additional = schema.get("additionalProperties")
    return dict(additional) if isinstance(additional, dict) else {}


def extra_errors(value: Any, schema: Schema, path: str = "") -> list[str]:
    """CEL, oneOf and list-type violations anywhere in `value`, as "path: message"."""
    return list(_walk(value, schema, path))


def _walk(value: Any, schema: Schema, path: str) -> Iterator[str]:
    yield from _rules(value, schema, path)
    yield from _one_of(value, schema, path)
    if isinstance(value, list):
        yield from _list_type(value, schema, path)
        for n, item in enumerate(value):
            yield from _walk(item, schema.get("items", {}), f"{path}[{n}]")
    elif isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        for key, item in value.items():
            yield from _walk(item, _child(schema, key), f"{path}.{key}" if path else key)


def _rules(value: Any, schema: Schema, path: str) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        try:
            passed = compile_rule(rule["rule"]).evaluate({"self": cel_value(value, schema)})
        except celpy.CELEvalError as error:
            yield f"{path}: rule {rule['rule']!r} failed to evaluate: {error}"
            continue
        if isinstance(passed, celpy.CELEvalError):
            yield f"{path}: rule {rule['rule']!r} failed to evaluate: {passed}"
        elif not passed:
            yield f"{path}: Invalid value: {rule['message']}"


def _one_of(value: Any, schema: Schema, path: str) -> Iterator[str]:
    if "oneOf" not in schema or not isinstance(value, dict):
        return
    if any(set(option) != {"required"} for option in schema["oneOf"]):
        raise NotImplementedError(f"{path}: only oneOf of required sets is checked here")
    matches = sum(all(key in value for key in option["required"]) for option in schema["oneOf"])
    if matches != 1:
        yield f"{path}: Invalid value: must validate one and only one schema (oneOf)"


def _list_type(value: list[Any], schema: Schema, path: str) -> Iterator[str]:
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        keys = [repr(item) for item in value]
    elif kind == "map":
        names = schema["x-kubernetes-list-map-keys"]
        keys = [repr([item.get(name) for name in names]) for item in value]
    else:
        return
    for n, key in enumerate(keys):
        if key in keys[:n]:
            yield f"{path}[{n}]: Duplicate value: {value[n]!r}"


def version_schema(crd: dict[str, Any]) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def admit(obj: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Every error a real API server would report for `obj` under `crd` (empty: accepted).

    Unknown fields count as errors, as with `kubectl apply`'s default strict validation.
    """
    schema = version_schema(crd)
    stored, dropped, errors = emulator_schema.admit(obj, schema)
    unknown = [f'{path}: unknown field "{path.rpartition(".")[2]}"' for path in dropped]
    if errors or unknown:
        return [str(error) for error in errors] + unknown
    return extra_errors(stored, schema)
