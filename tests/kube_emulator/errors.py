"""Failures as the Kubernetes API reports them: a `kind: Status` body with reason and code.

kubectl, kr8s and kopf read `reason`, `code`, `message` and `details.causes`, so every
refusal in the emulator is an `ApiError` that renders to exactly that shape. Field-level
problems are `FieldError`s, rendered the way apimachinery's `field.Error` prints them
(`spec.x: Invalid value: 200: spec.x in body should be less than or equal to 100`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_NO_VALUE = object()

# field.ErrorType -> (the words printed, the cause reason)
_FIELD_ERROR_TYPES = {
    "invalid": ("Invalid value", "FieldValueInvalid"),
    "type": ("Invalid value", "FieldValueTypeInvalid"),
    "required": ("Required value", "FieldValueRequired"),
    "unsupported": ("Unsupported value", "FieldValueNotSupported"),
    "forbidden": ("Forbidden", "FieldValueForbidden"),
    "duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "toolong": ("Too long", "FieldValueTooLong"),
    "toomany": ("Too many", "FieldValueTooMany"),
}


def go_repr(value: Any) -> str:
    """Print a value roughly as Go's `%#v` does in apiserver messages (strings quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, like apimachinery's `field.Error`."""

    path: str
    type: str  # a key of _FIELD_ERROR_TYPES
    detail: str = ""
    value: Any = field(default=_NO_VALUE)

    @property
    def body(self) -> str:
        """The part after `path: `, as in `field.Error.ErrorBody()`."""
        words = _FIELD_ERROR_TYPES[self.type][0]
        parts = [words]
        if self.value is not _NO_VALUE and self.type not in ("required", "forbidden", "toolong"):
            parts.append(go_repr(self.value))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)

    def __str__(self) -> str:
        return f"{self.path}: {self.body}"

    def as_cause(self) -> dict[str, str]:
        return {
            "reason": _FIELD_ERROR_TYPES[self.type][1],
            "message": self.body,
            "field": self.path,
        }


class ApiError(Exception):
    """A refused request; `status_body()` is what the client receives."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(resource: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    message = f'{_qualified(resource, group)} "{name}" not found'
    return ApiError(404, "NotFound", message, _details(resource, group, name))


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    message = f'{_qualified(resource, group)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(resource, group, name))


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(resource, group, name))


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid, worded like `errors.NewInvalid` (one error plain, several in brackets)."""
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    message = f'{_qualified(kind, group)} "{name}" is invalid: {listed}'
    details = _details(kind, group, name)
    details["causes"] = [error.as_cause() for error in errors]
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unprocessable_patch(message: str) -> ApiError:
    """A JSON patch that cannot be applied (the apiserver answers 422 with reason Invalid)."""
    return ApiError(422, "Invalid", message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def method_not_allowed(verb: str, resource: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"{verb} is not supported on {resource}", {})


def forbidden(resource: str, group: str, name: str, why: str) -> ApiError:
    message = f'{_qualified(resource, group)} "{name}" is forbidden: {why}'
    return ApiError(403, "Forbidden", message, _details(resource, group, name))


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
