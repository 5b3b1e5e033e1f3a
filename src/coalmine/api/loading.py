"""From YAML text to resource models, with errors that name the document, the field and the fix.

Every problem reads like `canary go-demo-7: spec.analysis.stepWeights: must be increasing
and at most 100, got [20, 10]`. Unknown fields are errors, with a "did you mean" when a
valid name is close. Files written for Flagger (`flagger.app/v1beta1`) load as they are.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from coalmine.api import gatewayapi
from coalmine.api.alert_provider import AlertProvider
from coalmine.api.canary import Canary
from coalmine.api.common import COALMINE_GROUP, FLAGGER_GROUP, Model
from coalmine.api.configs import ConfigMap, Secret
from coalmine.api.metric_template import MetricTemplate
from coalmine.api.networking import (
    ISTIO_API_VERSIONS,
    DestinationRule,
    Gateway,
    VirtualService,
)
from coalmine.api.parsing import DEFAULT_LIMITS, ParseLimits, check_shape, load_yaml_documents
from coalmine.api.workloads import Deployment, Service
from coalmine.errors import ManifestError, Problem

__all__ = [
    "CUSTOM_RESOURCES",
    "GATEWAY_API_GATEWAY",
    "LOCAL_RESOURCES",
    "DocumentCheck",
    "Kind",
    "LoadedFile",
    "load_file",
    "load_text",
    "parse_resource",
    "stored_kind",
]


@dataclass(frozen=True)
class Kind:
    """A kind of object coalmine reads: its model and the apiVersions it is accepted under.

    A mapping of kinds is keyed by the name objects are stored and listed under, which is
    the document's `kind` unless two API groups share that kind (Istio's and the Gateway
    API's `Gateway`): then `kind` names the document's kind and the key is qualified by
    the group, as kubectl does (`Gateway.gateway.networking.k8s.io`)."""

    model: type[Model]
    api_versions: tuple[str, ...]
    kind: str | None = None
    """The document's `kind` when it differs from the mapping's key."""


def _custom(model: type[Model]) -> Kind:
    return Kind(model, (f"{COALMINE_GROUP}/v1beta1", f"{FLAGGER_GROUP}/v1beta1"))


CUSTOM_RESOURCES: Mapping[str, Kind] = {
    "Canary": _custom(Canary),
    "MetricTemplate": _custom(MetricTemplate),
    "AlertProvider": _custom(AlertProvider),
}
"""coalmine's own resources."""

GATEWAY_API_GATEWAY = "Gateway.gateway.networking.k8s.io"
"""How the Gateway API's Gateway is stored and listed: Istio's has the name `Gateway`."""

LOCAL_RESOURCES: Mapping[str, Kind] = {
    **CUSTOM_RESOURCES,
    "Deployment": Kind(Deployment, ("apps/v1",)),
    "Service": Kind(Service, ("v1",)),
    "ConfigMap": Kind(ConfigMap, ("v1",)),
    "Secret": Kind(Secret, ("v1",)),
    "Gateway": Kind(Gateway, ISTIO_API_VERSIONS),
    "VirtualService": Kind(VirtualService, ISTIO_API_VERSIONS),
    "DestinationRule": Kind(DestinationRule, ISTIO_API_VERSIONS),
    GATEWAY_API_GATEWAY: Kind(gatewayapi.Gateway, gatewayapi.GATEWAY_API_VERSIONS, kind="Gateway"),
    "HTTPRoute": Kind(gatewayapi.HTTPRoute, gatewayapi.GATEWAY_API_VERSIONS),
    "ReferenceGrant": Kind(gatewayapi.ReferenceGrant, gatewayapi.REFERENCE_GRANT_VERSIONS),
}
"""Everything the local runtime (`coalmine up`) understands."""


@dataclass
class LoadedFile:
    """What one file gave: the resources that parsed and the problems of those that did not."""

    resources: list[Model] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0
    """Documents read, valid or not."""
    skipped: list[str] = field(default_factory=list)
    """Documents of kinds not asked for, when told to skip them ("deployment go-demo-7")."""


DocumentCheck = Callable[[object], list[Problem]]
"""A caller's rule for one parsed YAML document (before the model): its problems."""


def load_file(
    path: Path,
    *,
    kinds: Mapping[str, Kind] = CUSTOM_RESOURCES,
    checks: Sequence[DocumentCheck] = (),
    skip_other_kinds: bool = False,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> LoadedFile:
    """Read every YAML document of a file; never raises for bad content."""
    try:
        size = path.stat().st_size
        if size > limits.max_request_bytes:
            message = f"{size} bytes; at most {limits.max_request_bytes} are read"
            return LoadedFile(problems=[Problem(str(path), "", message)])
        text = path.read_text()
    except OSError as error:
        return LoadedFile(problems=[Problem(str(path), "", f"cannot read: {error.strerror}")])
    except UnicodeDecodeError as error:
        return LoadedFile(problems=[Problem(str(path), "", f"not UTF-8 text: {error.reason}")])
    return load_text(
        text,
        source=str(path),
        kinds=kinds,
        checks=checks,
        skip_other_kinds=skip_other_kinds,
        limits=limits,
    )


def load_text(
    text: str,
    *,
    source: str = "<input>",
    kinds: Mapping[str, Kind] = CUSTOM_RESOURCES,
    checks: Sequence[DocumentCheck] = (),
    skip_other_kinds: bool = False,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> LoadedFile:
    """Parse every document; with skip_other_kinds, kinds not in `kinds` are listed, not errors.

    `checks` are the caller's own rules for a document (a runtime's settings, such as
    `api.interval_floor`): their problems are listed with the model's, and a document
    with any problem gives no resource."""
    loaded = LoadedFile()
    try:
        documents = load_yaml_documents(text, source=source, limits=limits)
    except ManifestError as error:
        loaded.problems.extend(error.problems)
        return loaded
    loaded.documents = len(documents)
    for index, document in enumerate(documents, start=1):
        if skip_other_kinds and _kind_of(document) not in _document_kinds(kinds):
            loaded.skipped.append(_label(document) or f"{source} document {index}")
            continue
        problems = [problem for check in checks for problem in check(document)]
        try:
            resource = parse_resource(document, kinds=kinds)
        except ManifestError as error:
            problems = [*error.problems, *problems]
        for problem in problems:
            if not problem.document:
                problem = Problem(f"{source} document {index}", problem.path, problem.message)
            loaded.problems.append(problem)
        if not problems:
            loaded.resources.append(resource)
    return loaded


def parse_resource(
    document: object,
    *,
    kinds: Mapping[str, Kind] = CUSTOM_RESOURCES,
) -> Model:
    """Validate one document into its model, or raise ManifestError listing every problem.

    Data that did not come through `load_text` (an object read from the API server)
    is checked for depth and size first."""
    check_shape(document, source=_label(document) or "<object>")
    if not isinstance(document, dict):
        raise ManifestError([Problem("", "", "must be a mapping with apiVersion and kind")])
    kind_name = _kind_of(document)
    label = _label(document)
    candidates = [k for key, k in kinds.items() if (k.kind or key) == kind_name]
    if not candidates:
        names = ", ".join(dict.fromkeys(k.kind or key for key, k in kinds.items()))
        raise ManifestError([Problem(label, "kind", f"must be one of {names}, got {kind_name!r}")])
    api_version = document.get("apiVersion")
    kind = next((k for k in candidates if api_version in k.api_versions), None)
    if kind is None:
        allowed = " or ".join(v for k in candidates for v in k.api_versions)
        raise ManifestError(
            [Problem(label, "apiVersion", f"must be {allowed}, got {api_version!r}")]
        )
    try:
        return kind.model.model_validate(document, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ManifestError(_problems(label, kind.model, error.errors())) from None


def stored_kind(resource: Model, kinds: Mapping[str, Kind]) -> str:
    """The name `resource` is stored and listed under: its key in `kinds`."""
    for key, kind in kinds.items():
        if type(resource) is kind.model:
            return key
    raise KeyError(f"{type(resource).__name__} is not one of {', '.join(kinds)}")


def _document_kinds(kinds: Mapping[str, Kind]) -> set[str]:
    return {kind.kind or key for key, kind in kinds.items()}


def _kind_of(document: object) -> str | None:
    kind = document.get("kind") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def _label(document: object) -> str:
    """How problems name a document: "canary go-demo-7"; empty when it has no kind or name."""
    if not isinstance(document, dict):
        return ""
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    kind = _kind_of(document)
    return f"{kind.lower()} {name}" if kind and name else ""


def _problems(label: str, model: type[BaseModel], errors: Iterable[ErrorDetails]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in errors:
        path, parent = _walk(model, error["loc"])
        if path in seen:  # one line per field: a union reports each of its members
            continue
        seen.add(path)
        problems.append(Problem(label, path, _message(error, parent)))
    return problems


def _message(error: ErrorDetails, parent: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_field(str(error["loc"][-1]), parent)
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:] if message else message
    given = error.get("input")
    if kind != "value_error" and not isinstance(given, dict) and "got" not in message:
        message = f"{message}, got {given!r}"
    return message


def _unknown_field(name: str, parent: type[BaseModel] | None) -> str:
    if parent is None:
        return "unknown field"
    if name in getattr(parent, "unsupported", ()):
        return "not supported by the local runtime (coalmine up); remove it, or use Kubernetes"
    valid = sorted(info.alias or field_name for field_name, info in parent.model_fields.items())
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]}?"
    return f"unknown field; valid fields are {', '.join(valid)}"


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, type[BaseModel] | None]:
    """Turn pydantic's error location into a readable path, and find the model holding its end.

    Locations name union members ("int", "str", a model's name) that are not fields;
    they are skipped so that the path is the one a user writes in YAML.
    """
    path = ""
    current: Any = model
    parent: type[BaseModel] | None = None
    for part in loc:
        current = _strip_optional(current)
        if _is_union(current):
            members = [m for m in typing.get_args(current) if m is not type(None)]
            chosen = next((m for m in members if _type_name(m) == part), None)
            if chosen is not None:
                current = chosen
                continue
            current = members[0]
        if isinstance(part, int):
            path += f"[{part}]"
            current = _item_type(current)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            parent = current
            field_info = next(
                (
                    info
                    for name, info in current.model_fields.items()
                    if (info.alias or name) == part
                ),
                None,
            )
            current = field_info.annotation if field_info is not None else None
            path += f".{part}" if path else part
        elif typing.get_origin(current) in (dict, Mapping):
            path += f".{part}" if path else part
            current = typing.get_args(current)[1]
        else:
            path += f".{part}" if path else part
            current = None
    return path, parent


def _strip_optional(annotation: Any) -> Any:
    annotation = _unannotate(annotation)
    if _is_union(annotation):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return _unannotate(members[0])
    return annotation


def _unannotate(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _item_type(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return _unannotate(args[0]) if args else None


def _type_name(annotation: Any) -> str:
    annotation = _unannotate(annotation)
    return getattr(annotation, "__name__", str(annotation))
