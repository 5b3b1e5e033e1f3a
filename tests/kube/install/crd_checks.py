"""A real API server's verdict on an object under a CRD, without a server.

The emulator's schema admission (`tests/kube_emulator/schema.py`: pruning, the OpenAPI
checks, list types, oneOf and the CEL rules, as `kube-apiserver` runs them) applied to
a document directly, so that table tests need no HTTP round trip.

`admit(obj, crd)` is the whole verdict, as "path: message" strings (empty: accepted).
"""

from __future__ import annotations

from typing import Any

from tests.kube_emulator import schema as emulator_schema
from tests.kube_emulator.validations import compile_rule

__all__ = ["admit", "compile_rule", "version_schema"]

Schema = dict[str, Any]


def version_schema(crd: dict[str, Any]) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def admit(obj: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Every error a real API server would report for `obj` under `crd` (empty: accepted).

    Unknown fields count as errors, as with `kubectl apply`'s default strict validation.
    """
    _, dropped, errors = emulator_schema.admit(obj, version_schema(crd))
    unknown = [f'{path}: unknown field "{path.rpartition(".")[2]}"' for path in dropped]
    return [str(error) for error in errors] + unknown
