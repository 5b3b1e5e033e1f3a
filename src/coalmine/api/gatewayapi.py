"""The Gateway API's Gateway and HTTPRoute (`gateway.networking.k8s.io/v1`), as coalmine reads them.

The fields, enums, defaults and limits (maxItems, lengths, patterns) are the
specification's (sigs.k8s.io/gateway-api apis/v1, the "standard" channel), so a manifest
that loads here is one a cluster with the Gateway API CRDs accepts. Fields of the
specification that coalmine does not act on are named in each model's `unsupported`, so
that the local runtime refuses them by name instead of with "extra field".

Two users: the `gatewayapi` router (`routing.http_route` writes HTTPRoutes of this shape;
its tests load what it writes through these models), and local mode, which takes Gateways
and HTTPRoutes as it takes Istio's objects (`api.networking`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from coalmine.api.common import ObjectMeta
from coalmine.api.workloads import LocalModel

__all__ = [
    "GATEWAY_API_GROUP",
    "GATEWAY_API_VERSIONS",
    "REFERENCE_GRANT_VERSIONS",
    "AllowedRoutes",
    "Gateway",
    "GatewaySpec",
    "HTTPBackendRef",
    "HTTPHeader",
    "HTTPHeaderFilter",
    "HTTPHeaderMatch",
    "HTTPPathMatch",
    "HTTPPathModifier",
    "HTTPQueryParamMatch",
    "HTTPRequestMirrorFilter",
    "HTTPRoute",
    "HTTPRouteFilter",
    "HTTPRouteMatch",
    "HTTPRouteRule",
    "HTTPRouteSpec",
    "HTTPRouteTimeouts",
    "HTTPURLRewriteFilter",
    "Listener",
    "ParentReference",
    "ReferenceGrant",
    "ReferenceGrantFrom",
    "ReferenceGrantSpec",
    "ReferenceGrantTo",
    "RouteNamespaces",
]

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSIONS = (f"{GATEWAY_API_GROUP}/v1", f"{GATEWAY_API_GROUP}/v1beta1")
"""The versions served for Gateway and HTTPRoute (v1beta1 is the same schema)."""
REFERENCE_GRANT_VERSIONS = (f"{GATEWAY_API_GROUP}/v1beta1",)
"""ReferenceGrant is served as v1beta1 in the standard channel."""

GatewayApiVersion = Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]

# The specification's string types (apis/v1/shared_types.go), with their limits.
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_NAME = rf"{_LABEL}(\.{_LABEL})*"
Group = Annotated[str, Field(max_length=253, pattern=rf"^$|^{_DNS_NAME}$")]
Kind = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
]
Namespace = Annotated[str, Field(min_length=1, max_length=63, pattern=rf"^{_LABEL}$")]
ObjectName = Annotated[str, Field(min_length=1, max_length=253)]
SectionName = Annotated[str, Field(min_length=1, max_length=253, pattern=rf"^{_DNS_NAME}$")]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=rf"^(\*\.)?{_DNS_NAME}$")]
PreciseHostname = Annotated[str, Field(min_length=1, max_length=253, pattern=rf"^{_DNS_NAME}$")]
HeaderName = Annotated[
    str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
]
_PROTOCOL = rf"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|{_DNS_NAME}\/[A-Za-z0-9]+$"
GatewayDuration = Annotated[str, Field(pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")]
"""The Gateway API's duration (GEP-2257): "1h", "10s", "500ms", "1m30s"."""


class ParentReference(LocalModel):
    """What a route attaches to: a Gateway (default) and optionally one of its listeners."""

    group: Group | None = None
    """Default gateway.networking.k8s.io."""
    kind: Kind | None = None
    """Default Gateway."""
    namespace: Namespace | None = None
    """Default: the route's namespace."""
    name: ObjectName
    section_name: SectionName | None = None
    """A listener's name."""
    port: PortNumber | None = None


class HTTPPathMatch(LocalModel):
    type: Literal["Exact", "PathPrefix", "RegularExpression"] = "PathPrefix"
    value: Annotated[str, Field(max_length=1024)] = "/"

    @model_validator(mode="after")
    def _absolute(self) -> HTTPPathMatch:
        if self.type != "RegularExpression" and not self.value.startswith("/"):
            raise ValueError(f"an {self.type} path must start with '/', got {self.value!r}")
        return self


class HTTPHeaderMatch(LocalModel):
    type: Literal["Exact", "RegularExpression"] = "Exact"
    name: HeaderName
    value: Annotated[str, Field(min_length=1, max_length=4096)]


class HTTPQueryParamMatch(LocalModel):
    type: Literal["Exact", "RegularExpression"] = "Exact"
    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(min_length=1, max_length=1024)]


HTTPMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


class HTTPRouteMatch(LocalModel):
    """All of its conditions must hold (AND); the matches of one rule are ORed."""

    path: HTTPPathMatch | None = None
    headers: Annotated[list[HTTPHeaderMatch], Field(max_length=16)] | None = None
    query_params: Annotated[list[HTTPQueryParamMatch], Field(max_length=16)] | None = None
    method: HTTPMethod | None = None


class HTTPHeader(LocalModel):
    name: HeaderName
    value: Annotated[str, Field(min_length=1, max_length=4096)]


class HTTPHeaderFilter(LocalModel):
    """RequestHeaderModifier and ResponseHeaderModifier: set, add, remove."""

    set: Annotated[list[HTTPHeader], Field(max_length=16)] | None = None
    add: Annotated[list[HTTPHeader], Field(max_length=16)] | None = None
    remove: Annotated[list[str], Field(max_length=16)] | None = None


class BackendObjectReference(LocalModel):
    group: Group | None = None
    """Default "" (the core group)."""
    kind: Kind | None = None
    """Default Service."""
    name: ObjectName
    namespace: Namespace | None = None
    port: PortNumber | None = None
    """Required when the backend is a Service (the specification's CEL rule)."""

    @model_validator(mode="after")
    def _service_has_a_port(self) -> BackendObjectReference:
        if self.group in (None, "") and self.kind in (None, "Service") and self.port is None:
            raise ValueError(f"backend Service {self.name!r} needs a port: set port")
        return self


class Fraction(LocalModel):
    numerator: Annotated[int, Field(ge=0)]
    denominator: Annotated[int, Field(ge=1)] = 100


class HTTPRequestMirrorFilter(LocalModel):
    """A copy of each request (or of `percent` of them) goes to `backendRef`; its answer
    is dropped."""

    backend_ref: BackendObjectReference
    percent: Annotated[int, Field(ge=0, le=100)] | None = None
    fraction: Fraction | None = None

    @model_validator(mode="after")
    def _one_share(self) -> HTTPRequestMirrorFilter:
        if self.percent is not None and self.fraction is not None:
            raise ValueError("set percent or fraction, not both")
        return self


class HTTPPathModifier(LocalModel):
    type: Literal["ReplaceFullPath", "ReplacePrefixMatch"]
    replace_full_path: Annotated[str, Field(max_length=1024)] | None = None
    replace_prefix_match: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _value_of_its_type(self) -> HTTPPathModifier:
        full = self.type == "ReplaceFullPath"
        wanted = "replaceFullPath" if full else "replacePrefixMatch"
        given = self.replace_full_path if full else self.replace_prefix_match
        other = self.replace_prefix_match if full else self.replace_full_path
        if given is None or other is not None:
            raise ValueError(f"type {self.type} takes {wanted} and only it")
        return self


class HTTPURLRewriteFilter(LocalModel):
    hostname: PreciseHostname | None = None
    path: HTTPPathModifier | None = None


FilterType = Literal[
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestMirror",
    "RequestRedirect",
    "URLRewrite",
    "ExtensionRef",
]
_FILTER_FIELDS = {
    "RequestHeaderModifier": "request_header_modifier",
    "ResponseHeaderModifier": "response_header_modifier",
    "RequestMirror": "request_mirror",
    "URLRewrite": "url_rewrite",
}


class HTTPRouteFilter(LocalModel):
    """One filter: `type` names it and the one field of that name carries it."""

    unsupported = frozenset({"requestRedirect", "extensionRef", "cors", "externalAuth"})
    type: FilterType
    request_header_modifier: HTTPHeaderFilter | None = None
    response_header_modifier: HTTPHeaderFilter | None = None
    request_mirror: HTTPRequestMirrorFilter | None = None
    url_rewrite: HTTPURLRewriteFilter | None = Field(default=None, alias="urlRewrite")

    @model_validator(mode="after")
    def _its_field_only(self) -> HTTPRouteFilter:
        wanted = _FILTER_FIELDS.get(self.type)
        if wanted is None:
            raise ValueError(
                f"filter type {self.type} is not supported by coalmine; use one of "
                f"{', '.join(_FILTER_FIELDS)}"
            )
        given = [name for name in _FILTER_FIELDS.values() if getattr(self, name) is not None]
        if given != [wanted]:
            alias = type(self).model_fields[wanted].alias
            raise ValueError(f"a {self.type} filter sets {alias} and no other filter field")
        return self


class HTTPBackendRef(BackendObjectReference):
    weight: Annotated[int, Field(ge=0, le=1_000_000)] = 1
    """Share of the rule's requests, relative to the other backends' weights."""
    filters: Annotated[list[HTTPRouteFilter], Field(max_length=16)] | None = None
    """Filters applied only to requests sent to this backend (coalmine: Set-Cookie for
    session affinity)."""


class HTTPRouteTimeouts(LocalModel):
    request: GatewayDuration | None = None
    """The whole request, as the client sees it (retries included)."""
    backend_request: GatewayDuration | None = None
    """One request from the gateway to a backend."""


def _default_matches() -> list[HTTPRouteMatch]:
    return [HTTPRouteMatch(path=HTTPPathMatch())]


class HTTPRouteRule(LocalModel):
    unsupported = frozenset({"retry", "sessionPersistence", "name"})
    matches: Annotated[list[HTTPRouteMatch], Field(max_length=64)] = Field(
        default_factory=_default_matches
    )
    """Default: every path (PathPrefix /)."""
    filters: Annotated[list[HTTPRouteFilter], Field(max_length=16)] | None = None
    backend_refs: Annotated[list[HTTPBackendRef], Field(max_length=16)] | None = None
    timeouts: HTTPRouteTimeouts | None = None


def _default_rules() -> list[HTTPRouteRule]:
    return [HTTPRouteRule()]


class HTTPRouteSpec(LocalModel):
    parent_refs: Annotated[list[ParentReference], Field(max_length=32)] | None = None
    hostnames: Annotated[list[Hostname], Field(max_length=16)] | None = None
    rules: Annotated[list[HTTPRouteRule], Field(min_length=1, max_length=16)] = Field(
        default_factory=_default_rules
    )


class HTTPRoute(LocalModel):
    api_version: GatewayApiVersion
    kind: Literal["HTTPRoute"] = "HTTPRoute"
    metadata: ObjectMeta
    spec: HTTPRouteSpec


class RouteNamespaces(LocalModel):
    unsupported = frozenset({"selector"})
    from_: Literal["All", "Same", "Selector"] = Field(default="Same", alias="from")


class RouteGroupKind(LocalModel):
    group: Group | None = None
    kind: Kind


class AllowedRoutes(LocalModel):
    namespaces: RouteNamespaces | None = None
    kinds: Annotated[list[RouteGroupKind], Field(max_length=8)] | None = None


class Listener(LocalModel):
    unsupported = frozenset({"tls"})
    name: SectionName
    hostname: Hostname | None = None
    port: PortNumber
    protocol: Annotated[str, Field(min_length=1, max_length=255, pattern=_PROTOCOL)]
    """HTTP, HTTPS, TLS, TCP, UDP or an implementation's domain-prefixed name."""
    allowed_routes: AllowedRoutes | None = None


class GatewaySpec(LocalModel):
    unsupported = frozenset({"addresses", "infrastructure", "backendTLS", "allowedListeners"})
    gateway_class_name: ObjectName
    listeners: Annotated[list[Listener], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _listener_names_unique(self) -> GatewaySpec:
        names = [listener.name for listener in self.listeners]
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"listener names must be unique, repeated: {', '.join(repeated)}")
        return self


class Gateway(LocalModel):
    api_version: GatewayApiVersion
    kind: Literal["Gateway"] = "Gateway"
    metadata: ObjectMeta
    spec: GatewaySpec


class ReferenceGrantFrom(LocalModel):
    """Who may refer: objects of this group and kind in this namespace."""

    group: Group
    kind: Kind
    namespace: Namespace


class ReferenceGrantTo(LocalModel):
    """What they may refer to, in the grant's namespace: this group and kind, and only the
    object `name` when it is set."""

    group: Group
    kind: Kind
    name: ObjectName | None = None


class ReferenceGrantSpec(LocalModel):
    from_: Annotated[list[ReferenceGrantFrom], Field(min_length=1, max_length=16)] = Field(
        alias="from"
    )
    to: Annotated[list[ReferenceGrantTo], Field(min_length=1, max_length=16)]


class ReferenceGrant(LocalModel):
    """Lets objects of other namespaces refer to objects of this one (a route in `shop`
    to a Service here): a reference across namespaces holds only with a grant in the
    namespace referred to."""

    api_version: Literal["gateway.networking.k8s.io/v1beta1"]
    kind: Literal["ReferenceGrant"] = "ReferenceGrant"
    metadata: ObjectMeta
    spec: ReferenceGrantSpec

    def grants(self, group: str, kind: str, namespace: str, to: tuple[str, str, str]) -> bool:
        """Whether an object of (group, kind) in `namespace` may refer to `to`, the
        (group, kind, name) of an object in this grant's namespace."""
        allowed_from = any(
            (f.group, f.kind, f.namespace) == (group, kind, namespace) for f in self.spec.from_
        )
        to_group, to_kind, to_name = to
        return allowed_from and any(
            (t.group, t.kind) == (to_group, to_kind) and t.name in (None, to_name)
            for t in self.spec.to
        )
