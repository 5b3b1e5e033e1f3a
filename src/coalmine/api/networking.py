"""Istio's Gateway, VirtualService and DestinationRule, as the local runtime understands them.

The local runtime turns these into Envoy configuration; fields it cannot honour are
rejected by name. In Kubernetes mode the real Istio objects are written and read as
Istio defines them; these models are not used there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from coalmine.api.common import Duration, ObjectMeta
from coalmine.api.istio import (
    CorsPolicy,
    Headers,
    HTTPMatchRequest,
    HTTPRetry,
    HTTPRewrite,
)
from coalmine.api.workloads import LocalModel

__all__ = [
    "ISTIO_API_VERSIONS",
    "Destination",
    "DestinationRule",
    "Gateway",
    "HTTPRoute",
    "HTTPRouteDestination",
    "Subset",
    "VirtualService",
]

ISTIO_API_VERSIONS = (
    "networking.istio.io/v1",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3",
)

IstioVersion = Literal[
    "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"
]


class GatewayPort(LocalModel):
    number: Annotated[int, Field(ge=1, le=65535)]
    name: str | None = None
    protocol: Literal["HTTP", "http"] = "HTTP"
    target_port: int | None = None


class Server(LocalModel):
    unsupported = frozenset({"tls", "bind", "defaultEndpoint"})
    port: GatewayPort
    hosts: Annotated[list[str], Field(min_length=1)]
    name: str | None = None


class GatewaySpec(LocalModel):
    selector: dict[str, str] = Field(default_factory=dict)
    """Ignored locally: the one local gateway serves every Gateway."""
    servers: Annotated[list[Server], Field(min_length=1)]


class Gateway(LocalModel):
    api_version: IstioVersion
    kind: Literal["Gateway"] = "Gateway"
    metadata: ObjectMeta
    spec: GatewaySpec


class PortSelector(LocalModel):
    number: Annotated[int, Field(ge=1, le=65535)]


class Destination(LocalModel):
    host: Annotated[str, Field(min_length=1)]
    subset: str | None = None
    port: PortSelector | None = None


class HTTPRouteDestination(LocalModel):
    destination: Destination
    weight: Annotated[int, Field(ge=0, le=100)] | None = None
    headers: Headers | None = None


class Percent(LocalModel):
    value: Annotated[float, Field(ge=0, le=100)]


class HTTPRoute(LocalModel):
    unsupported = frozenset({"redirect", "delegate", "directResponse", "fault", "mirrors"})
    name: str | None = None
    match: list[HTTPMatchRequest] | None = None
    route: Annotated[list[HTTPRouteDestination], Field(min_length=1)]
    rewrite: HTTPRewrite | None = None
    timeout: Duration | None = None
    retries: HTTPRetry | None = None
    headers: Headers | None = None
    mirror: Destination | None = None
    mirror_percentage: Percent | None = None
    cors_policy: CorsPolicy | None = None

    @model_validator(mode="after")
    def _weights_add_up(self) -> HTTPRoute:
        weights = [d.weight for d in self.route]
        if len(self.route) == 1 and weights[0] in (None, 100):
            return self
        if any(w is None for w in weights) or sum(w or 0 for w in weights) != 100:
            raise ValueError(
                f"route weights must add up to 100 when there are several destinations, "
                f"got {weights}"
            )
        return self


class VirtualServiceSpec(LocalModel):
    unsupported = frozenset({"tcp", "tls", "exportTo"})
    hosts: Annotated[list[str], Field(min_length=1)]
    gateways: list[str] | None = None
    http: Annotated[list[HTTPRoute], Field(min_length=1)]


class VirtualService(LocalModel):
    api_version: IstioVersion
    kind: Literal["VirtualService"] = "VirtualService"
    metadata: ObjectMeta
    spec: VirtualServiceSpec


class Subset(LocalModel):
    name: Annotated[str, Field(min_length=1)]
    labels: dict[str, str]
    traffic_policy: dict[str, Any] | None = None
    """Accepted and not applied locally (connection pools and TLS do not apply)."""


class DestinationRuleSpec(LocalModel):
    unsupported = frozenset({"exportTo", "workloadSelector"})
    host: Annotated[str, Field(min_length=1)]
    subsets: list[Subset] = Field(default_factory=list)
    traffic_policy: dict[str, Any] | None = None
    """Accepted and not applied locally."""


class DestinationRule(LocalModel):
    api_version: IstioVersion
    kind: Literal["DestinationRule"] = "DestinationRule"
    metadata: ObjectMeta
    spec: DestinationRuleSpec
