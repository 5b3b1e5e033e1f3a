"""A CRD's structural `openAPIV3Schema` applied to a custom resource, as the apiserver does.

Order as on the real server: prune unknown fields, drop non-nullable nulls, apply
defaults, then validate. Pruning keeps `apiVersion`, `kind` and `metadata` at the root,
keeps everything under `x-kubernetes-preserve-unknown-fields: true`, and reports what it
dropped so that `fieldValidation=Strict` can refuse it and `Warn` can say so.

Validated: type, nullable, enum, required, properties, additionalProperties (schema or
false), items, minimum/maximum (with exclusive bounds), multipleOf, minLength/maxLength,
pattern, minItems/maxItems, uniqueItems, minProperties/maxProperties,
x-kubernetes-int-or-string; then list types, `oneOf` of required sets and the CEL
`x-kubernetes-validations` (`validations.py`). Not validated: `format`, allOf/anyOf/not.
maxLength, maxItems and maxProperties read `Too long` / `Too many`, as the real
server's field errors do (and, like type, required and enum errors, they keep the CEL
rules from running).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import FieldError, go_repr
from .storage import clone
from .validations import refinement_errors

Schema = dict[str, Any]
ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def prune(value: Any, schema: Schema, path: str, dropped: list[str], root: bool = False) -> Any:
    """Remove fields the schema does not declare; record their paths in `dropped`."""
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            prune(item, schema["items"], f"{path}[{n}]", dropped) for n, item in enumerate(value)
        ]
    if not isinstance(value, dict) or schema.get("x-kubernetes-int-or-string"):
        return value
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    result = {}
    for key, item in value.items():
        if root and key in ROOT_KEEP:
            result[key] = item
        elif key in properties:
            result[key] = prune(item, properties[key], _child(path, key), dropped)
        elif isinstance(additional, dict):
            result[key] = prune(item, additional, _child(path, key), dropped)
        elif preserve or additional is True:
            result[key] = item
        else:
            dropped.append(_child(path, key))
    return result


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Fill in `default`s of absent properties; drop nulls where null is not allowed."""
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    if not isinstance(value, dict):
        return value
    result = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if result.get(key, 0) is None and not sub.get("nullable"):
            del result[key]
        if key not in result and "default" in sub:
            result[key] = clone(sub["default"])
        if key in result:
            result[key] = apply_defaults(result[key], sub)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key in set(result) - set(schema.get("properties", {})):
            result[key] = apply_defaults(result[key], additional)
    return result


def validate(
    value: Any, schema: Schema, path: str, root: bool = False, skip: frozenset[str] = frozenset()
) -> list[FieldError]:
    """Every rule the value breaks, with the field path in each error (`skip`: root
    fields not to look into)."""
    if value is None:
        if schema.get("nullable"):
            return []
        return _type_error(value, schema, path) if schema.get("type") else []
    type_errors = _type_error(value, schema, path)
    if type_errors:
        return type_errors
    errors = _enum_errors(value, schema, path)
    if isinstance(value, str):
        errors += _string_errors(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        errors += _number_errors(value, schema, path)
    elif isinstance(value, list):
        errors += _array_errors(value, schema, path)
    elif isinstance(value, dict):
        errors += _object_errors(value, schema, path, root, skip)
    return errors


def _type_error(value: Any, schema: Schema, path: str) -> list[FieldError]:
    actual = _json_type(value)
    if schema.get("x-kubernetes-int-or-string"):
        if actual in ("integer", "string"):
            return []
        expected = "integer,string"
    else:
        expected = schema.get("type", "")
        if not expected or actual == expected:
            return []
        if expected == "number" and actual == "integer":
            return []
        if expected == "integer" and actual == "number" and float(value).is_integer():
            return []
    detail = f'{path} in body must be of type {expected}: "{actual}"'
    return [FieldError(path, "type", detail, actual)]


def _enum_errors(value: Any, schema: Schema, path: str) -> list[FieldError]:
    allowed = schema.get("enum")
    if allowed is None or value in allowed:
        return []
    listed = ", ".join(go_repr(v) for v in allowed)
    return [FieldError(path, "unsupported", f"supported values: {listed}", value)]


def _string_errors(value: str, schema: Schema, path: str) -> list[FieldError]:
    errors = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        detail = f"may not be longer than {schema['maxLength']}"
        errors.append(FieldError(path, "toolong", detail, value))
    if "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        errors.append(FieldError(path, "invalid", detail, value))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        detail = f"{path} in body should match '{schema['pattern']}'"
        errors.append(FieldError(path, "invalid", detail, value))
    return errors


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number_errors(value: float, schema: Schema, path: str) -> list[FieldError]:
    errors = []
    if "maximum" in schema:
        bound, exclusive = schema["maximum"], schema.get("exclusiveMaximum") is True
        if value > bound or (exclusive and value == bound):
            words = "less than" if exclusive else "less than or equal to"
            detail = f"{path} in body should be {words} {_number(bound)}"
            errors.append(FieldError(path, "invalid", detail, value))
    if "minimum" in schema:
        bound, exclusive = schema["minimum"], schema.get("exclusiveMinimum") is True
        if value < bound or (exclusive and value == bound):
            words = "greater than" if exclusive else "greater than or equal to"
            detail = f"{path} in body should be {words} {_number(bound)}"
            errors.append(FieldError(path, "invalid", detail, value))
    step = schema.get("multipleOf")
    if step and (value / step) != int(value / step):
        detail = f"{path} in body should be a multiple of {_number(step)}"
        errors.append(FieldError(path, "invalid", detail, value))
    return errors


def _array_errors(value: list[Any], schema: Schema, path: str) -> list[FieldError]:
    errors = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        detail = f"must have at most {schema['maxItems']} items"
        errors.append(FieldError(path, "toomany", detail, len(value)))
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        errors.append(FieldError(path, "invalid", detail, len(value)))
    if schema.get("uniqueItems") and len({repr(v) for v in value}) < len(value):
        errors.append(FieldError(path, "duplicate", "", value))
    items = schema.get("items")
    if isinstance(items, dict):
        for n, item in enumerate(value):
            errors += validate(item, items, f"{path}[{n}]")
    return errors


def _object_errors(
    value: dict[str, Any], schema: Schema, path: str, root: bool, skip: frozenset[str]
) -> list[FieldError]:
    errors = [
        FieldError(_child(path, name), "required")
        for name in schema.get("required", [])
        if name not in value
    ]
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        detail = f"must have at most {schema['maxProperties']} items"
        errors.append(FieldError(path, "toomany", detail, len(value)))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        detail = f"{path} in body should have at least {schema['minProperties']} properties"
        errors.append(FieldError(path, "invalid", detail, len(value)))
    properties, additional = schema.get("properties", {}), schema.get("additionalProperties")
    for key, item in value.items():
        if root and (key in ROOT_KEEP or key in skip):
            continue
        if key in properties:
            errors += validate(item, properties[key], _child(path, key))
        elif isinstance(additional, dict):
            errors += validate(item, additional, _child(path, key))
    return errors


def admit(
    obj: dict[str, Any], schema: Schema, admitted: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str], list[FieldError]]:
    """Prune, default and validate a whole custom resource: (object, dropped paths, errors).

    The errors are the OpenAPI schema's, then those of list types, oneOf and CEL rules
    (`validations.py`), as the real server reports them.

    `admitted` is the object's stored version when it was admitted under this same
    schema: a root field equal to its stored value (the spec, in a status write) is
    kept as it is and not looked into, since every step here is a function of a field's
    value and its schema alone (no rule sees `oldSelf`), and it passed them all when
    stored. A status write at 5,000 Canaries spent most of its admission re-checking
    the unchanged spec. Rules on the root itself still see the whole object.
    """
    same = _unchanged_fields(obj, admitted)
    changed = {key: value for key, value in obj.items() if key not in same}
    dropped: list[str] = []
    pruned = prune(changed, schema, "", dropped, root=True)
    defaulted = apply_defaults(pruned, schema)
    whole = _with_unchanged(defaulted, obj, same)
    errors = validate(whole, schema, "", root=True, skip=same)
    return whole, dropped, errors + refinement_errors(whole, schema, errors, skip=same)


def _with_unchanged(
    defaulted: dict[str, Any], obj: dict[str, Any], same: frozenset[str]
) -> dict[str, Any]:
    """The admitted root fields and the unchanged ones, in the object's order."""
    if not same:
        return defaulted
    whole = {
        key: obj[key] if key in same else defaulted[key]
        for key in obj
        if key in same or key in defaulted
    }
    whole.update((key, value) for key, value in defaulted.items() if key not in whole)
    return whole


def _unchanged_fields(obj: dict[str, Any], admitted: dict[str, Any] | None) -> frozenset[str]:
    if admitted is None:
        return frozenset()
    return frozenset(
        key
        for key, value in obj.items()
        if key not in ROOT_KEEP and key in admitted and admitted[key] == value
    )
