"""What a CRD checks after its OpenAPI schema: list types, `oneOf`, CEL rules.

In the order and with the gating of the real server (apiextensions-apiserver,
pkg/registry/customresource/strategy.go, `Validate`/`ValidateUpdate`):

1. `x-kubernetes-list-type: set | map` items are unique
   (`structurallisttype.ValidateListSetsAndMaps`: `Duplicate value` at the repeat);
2. `oneOf` of `required` sets (kube-openapi's "must validate one and only one schema");
3. the `x-kubernetes-validations` CEL rules, unless an earlier error is *blocking*
   (`hasBlockingErr`: a type, required, enum, maxLength, maxItems or maxProperties
   error), in which case one error says that some rules were not checked. A pattern
   error does not block them, which is why a CEL rule that converts a malformed string
   (`duration(self)`) adds its raw conversion error beside the pattern's message.

A failed rule reads `spec.analysis: Invalid value: "object": <message>` (the value
printed is the schema type, as `field.Invalid(path, type, message)` does); a rule that
fails to evaluate gives its evaluation error as the message. Values reach CEL typed by
the schema (a `number` field is a double even when written as 7). CEL runs on
cel-python with the Kubernetes list function the CRDs use (`isSorted`); programs are
compiled once per rule text, so a CRD version's rules are compiled on first use only,
and a node's verdict is remembered for its value (see `VERDICTS_KEPT`).
Not supported: `messageExpression`, `fieldPath`, `reason`, transition rules
(`oldSelf`), and other Kubernetes CEL libraries (an unknown function fails to evaluate,
which the error names).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import celpy
from celpy import celtypes

from .errors import FieldError

Schema = dict[str, Any]

BLOCKING = frozenset({"type", "required", "unsupported", "toolong", "toomany"})
"""FieldError types after which the real server runs no CEL rule (`hasBlockingErr`)."""

NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


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
            {celtypes.StringType(k): cel_value(v, child(schema, k)) for k, v in value.items()}
        )
    return celpy.json_to_cel(value)


def child(schema: Schema, key: str) -> Schema:
    """The schema of one property (or additionalProperties entry) of an object schema."""
    properties = schema.get("properties", {})
    if key in properties:
        found: Schema = properties[key]
        return found
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else {}


def _path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _walk(
    value: Any, schema: Schema, path: str, check: Any, skip: frozenset[str] = frozenset()
) -> Iterator[FieldError]:
    """Call `check(value, schema, path)` on every node the schema describes (but the
    root fields in `skip`)."""
    yield from check(value, schema, path)
    if isinstance(value, list):
        for n, item in enumerate(value):
            yield from _walk(item, schema.get("items", {}), f"{path}[{n}]", check)
    elif isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        for key, item in value.items():
            if path == "" and (key in ("apiVersion", "kind", "metadata") or key in skip):
                continue
            yield from _walk(item, child(schema, key), _path(path, key), check)


def _list_type(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    kind = schema.get("x-kubernetes-list-type")
    if not isinstance(value, list) or kind not in ("set", "map"):
        return
    if kind == "set":
        keys = [repr(item) for item in value]
        shown = list(value)
    else:
        names = schema.get("x-kubernetes-list-map-keys", [])
        keyed = [
            {n: item.get(n) for n in names} if isinstance(item, dict) else {} for item in value
        ]
        keys, shown = [repr(k) for k in keyed], keyed
    for n, key in enumerate(keys):
        if key in keys[:n]:
            yield FieldError(f"{path}[{n}]", "duplicate", "", shown[n])


def _one_of(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    options = schema.get("oneOf")
    if not options or not isinstance(value, dict):
        return
    matches = sum(
        all(key in value for key in option.get("required", []))
        for option in options
        if set(option) == {"required"}
    )
    if matches != 1:
        found = "Found none valid" if matches == 0 else f"Found {matches} valid alternatives"
        detail = f"{path} must validate one and only one schema (oneOf). {found}"
        yield FieldError(path, "invalid", detail)


def _rules(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    rules = schema.get("x-kubernetes-validations") or []
    if not rules or value is None:
        return
    kind = "string" if schema.get("x-kubernetes-int-or-string") else schema.get("type", "object")
    for message in _verdict(value, schema, rules):
        yield FieldError(path, "invalid", message, kind)


_VERDICTS: OrderedDict[tuple[int, str], tuple[Schema, list[str]]] = OrderedDict()
VERDICTS_KEPT = 20_000
"""Node verdicts remembered: cel-python takes about half a millisecond per rule, and
writes repeat values (a spec write that leaves `spec.analysis` as it was, thousands of
Canaries created with the same analysis), so the same value under the same schema node
is judged once. (A status write's unchanged spec is not walked at all: `schema.admit`.)
The schema is kept in the entry, so its id is not reused."""


def _verdict(value: Any, schema: Schema, rules: list[Schema]) -> list[str]:
    """The messages of the rules `value` fails under this schema node (memoized)."""
    key = (id(schema), json.dumps(value, sort_keys=True, separators=(",", ":")))
    cached = _VERDICTS.get(key)
    if cached is not None:
        _VERDICTS.move_to_end(key)
        return cached[1]
    activation = {"self": cel_value(value, schema)}
    messages = []
    for rule in rules:
        try:
            passed = compile_rule(rule["rule"]).evaluate(activation)
        except celpy.CELEvalError as error:
            passed = error
        if isinstance(passed, celpy.CELEvalError):
            messages.append(str(passed.args[0] if passed.args else passed))
        elif not passed:
            messages.append(rule.get("message") or _default(rule))
    _VERDICTS[key] = (schema, messages)
    while len(_VERDICTS) > VERDICTS_KEPT:
        _VERDICTS.popitem(last=False)
    return messages


def _default(rule: Schema) -> str:
    return f"failed rule: {rule['rule']}"


def has_rules(schema: Any) -> bool:
    """Whether any node of the schema carries `x-kubernetes-validations`."""
    if isinstance(schema, dict):
        return bool(schema.get("x-kubernetes-validations")) or any(
            has_rules(value) for value in schema.values()
        )
    if isinstance(schema, list):
        return any(has_rules(value) for value in schema)
    return False


def refinement_errors(
    obj: Any, schema: Schema, earlier: list[FieldError], skip: frozenset[str] = frozenset()
) -> list[FieldError]:
    """The list-type, oneOf and CEL errors of a custom resource whose OpenAPI validation
    gave `earlier` (which decides whether the CEL rules run at all); the root fields in
    `skip` passed them before (`schema.admit`)."""
    found = list(_walk(obj, schema, "", _list_type, skip))
    found += _walk(obj, schema, "", _one_of, skip)
    if not has_rules(schema):  # the real server builds no CEL validator then
        return found
    if any(error.type in BLOCKING for error in earlier):
        return [*found, FieldError("<nil>", "invalid", NOT_CHECKED, "null")]
    return found + list(_walk(obj, schema, "", _rules, skip))


__all__ = ["BLOCKING", "cel_value", "child", "compile_rule", "refinement_errors"]
