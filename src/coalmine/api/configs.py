"""ConfigMap and Secret (v1), as the local runtime stores them.

Validated as the Kubernetes API server validates them (`ValidateConfigMap`,
`ValidateSecret` in `pkg/apis/core/validation`): keys are `[-._a-zA-Z0-9]+`, at most
253 characters, never "." or ".." nor starting with ".."; a ConfigMap's `data` and
`binaryData` share no key; the content is at most 1 MiB (`MaxSecretSize`, and the
ConfigMap's `totalSize` check); `binaryData` and a Secret's `data` are base64.

A Secret's `stringData` is merged into `data` (base64-encoded, overriding a key of the
same name) when it is stored, as the API server does on write: the stored object has
`data` only.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from coalmine.api.common import Model, ObjectMeta

__all__ = ["MAX_CONFIG_BYTES", "ConfigMap", "Secret", "decoded", "secret_data"]

MAX_CONFIG_BYTES = 1024 * 1024
"""Kubernetes' cap on a ConfigMap's or Secret's content (`corev1.MaxSecretSize`)."""

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _key_problem(key: str) -> str | None:
    """Kubernetes' `IsConfigMapKey`: why `key` is not a valid key, or None."""
    if len(key) > 253:
        return f"key {key[:40]!r}...: at most 253 characters"
    if not _KEY.match(key):
        return f"key {key!r}: must consist of alphanumerics, '-', '_' or '.'"
    if key in (".", "..") or key.startswith(".."):
        return f"key {key!r}: must not be '.' or '..' nor start with '..'"
    return None


def _check_keys(*mappings: dict[str, str] | None) -> None:
    for mapping in mappings:
        for key in mapping or {}:
            problem = _key_problem(key)
            if problem:
                raise ValueError(problem)


def _decode(field: str, key: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{field}.{key}: must be base64 (`base64 -w0 FILE`)") from None


def _check_size(size: int, kind: str) -> None:
    if size > MAX_CONFIG_BYTES:
        raise ValueError(
            f"{kind} content is {size} bytes; Kubernetes allows at most {MAX_CONFIG_BYTES}"
            " (1 MiB): split it, or mount a file from elsewhere"
        )


class ConfigMap(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    metadata: ObjectMeta
    data: dict[str, str] | None = None
    """UTF-8 values, given to processes as env values or file contents."""
    binary_data: dict[str, str] | None = None
    """base64 values: file contents only (an env value must be text)."""
    immutable: bool | None = None
    """Once stored as true, `data` and `binaryData` cannot change (delete and re-create)."""

    @model_validator(mode="after")
    def _valid(self) -> ConfigMap:
        _check_keys(self.data, self.binary_data)
        both = sorted(set(self.data or {}) & set(self.binary_data or {}))
        if both:
            raise ValueError(f"keys {both} are in both data and binaryData; keep one of each")
        size = sum(len(v.encode()) for v in (self.data or {}).values())
        for key, value in (self.binary_data or {}).items():
            size += len(_decode("binaryData", key, value))
        _check_size(size, "configmap")
        return self


SecretType = Annotated[str, Field(min_length=1)]


class Secret(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    metadata: ObjectMeta
    type: SecretType = "Opaque"
    data: dict[str, str] | None = None
    """base64 values."""
    string_data: dict[str, str] | None = None
    """Plain values, write-only: merged into `data` when stored (see `secret_data`)."""
    immutable: bool | None = None
    """Once stored as true, `data` cannot change (delete and re-create)."""

    @model_validator(mode="after")
    def _valid(self) -> Secret:
        _check_keys(self.data, self.string_data)
        merged = secret_data(self)
        _check_size(sum(len(v) for v in merged.values()), "secret")
        return self


def secret_data(secret: Secret) -> dict[str, bytes]:
    """The Secret's content by key: `data` decoded, then `stringData` over it."""
    merged = {k: _decode("data", k, v) for k, v in (secret.data or {}).items()}
    merged.update({k: v.encode() for k, v in (secret.string_data or {}).items()})
    return merged


def decoded(config: ConfigMap | Secret) -> dict[str, bytes]:
    """Every key's content as bytes: what a volume file holds."""
    if isinstance(config, Secret):
        return secret_data(config)
    found = {k: v.encode() for k, v in (config.data or {}).items()}
    found.update({k: base64.b64decode(v) for k, v in (config.binary_data or {}).items()})
    return found
