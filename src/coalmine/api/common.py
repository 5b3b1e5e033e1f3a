"""Pieces every resource shares: the model base, object metadata, durations, references."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "COALMINE_GROUP",
    "FLAGGER_GROUP",
    "Duration",
    "LocalObjectReference",
    "Model",
    "NamespacedReference",
    "ObjectMeta",
    "parse_duration",
]

COALMINE_GROUP = "coalmine.dev"
FLAGGER_GROUP = "flagger.app"


class Model(BaseModel):
    """Base of every resource model.

    Fields are snake_case in Python and camelCase in YAML, as Kubernetes writes them.
    Unknown fields are errors. Models are frozen: a new status is a copy, never an edit.
    Loading from YAML accepts only the camelCase names (see `api.loading`).
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,  # field docstrings become schema descriptions (CRDs)
    )

    def to_manifest(self) -> dict[str, Any]:
        """The object as Kubernetes would print it: camelCase, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$")


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration made of h, m, s and ms parts ("1m", "30s", "1m30s", "500ms")."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groupdict().values()):
        raise ValueError(f'must be a duration such as "30s", "1m" or "1m30s", got {text!r}')
    parts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
    return timedelta(
        hours=parts["h"], minutes=parts["m"], seconds=parts["s"], milliseconds=parts["ms"]
    )


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A duration kept as the text the user wrote ("1m"), checked to parse."""

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class ObjectMeta(Model):
    """Kubernetes object metadata: what users write, and what the API server adds."""

    name: Annotated[str, Field(min_length=1, max_length=253, pattern=_DNS_LABEL)]
    generate_name: str | None = None
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    owner_references: list[dict[str, Any]] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[dict[str, Any]] | None = None
    self_link: str | None = None


class LocalObjectReference(Model):
    """A reference to an object in the canary's own namespace."""

    api_version: str | None = None
    kind: str | None = None
    name: Annotated[str, Field(min_length=1)]


class NamespacedReference(Model):
    """A reference that may name another namespace (Flagger's CrossNamespaceObjectReference)."""

    api_version: str | None = None
    kind: str | None = None
    name: Annotated[str, Field(min_length=1)]
    namespace: str | None = None
