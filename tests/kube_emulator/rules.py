"""Per-type hooks: what a resource's server-side strategy does beyond generic metadata.

The registry calls `prepare` (defaults, server-assigned fields) and `validate` before a
write, and `committed` after one (a CRD write changes what is served).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import FieldError

Obj = dict[str, Any]


def _no_prepare(obj: Obj, old: Obj | None) -> None:
    return None


def _no_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
    return []


def _nothing(obj: Obj | None, old: Obj | None) -> None:
    return None


@dataclass(frozen=True)
class TypeRules:
    """Hooks for one storage; the defaults do nothing."""

    prepare: Callable[[Obj, Obj | None], None] = _no_prepare
    validate: Callable[[Obj, Obj | None], list[FieldError]] = _no_errors
    committed: Callable[[Obj | None, Obj | None], None] = _nothing
    name_rule: str = "subdomain"


NO_RULES = TypeRules()
