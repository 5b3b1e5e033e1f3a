"""The local runtime's router for provider `gatewayapi`: the canary's Services and a Gateway
API HTTPRoute, in the local store.

The HTTPRoute is the one the cluster's Gateway API router writes (`routing.http_route`:
weighted backendRefs, header and cookie matches, the RequestMirror filter, on the
parentRefs of `spec.service.gatewayRefs`); the runtime serves it with Envoy
(`local.http_routes`), so a Canary written for a Gateway API cluster runs unchanged.
"""

from __future__ import annotations

from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.gatewayapi import GATEWAY_API_VERSIONS
from coalmine.engine.observations import Routes
from coalmine.routers.local_store import StoreRouter
from coalmine.routing.http_route import http_route_spec, routes_of

__all__ = ["LocalGatewayApiRouter"]


class LocalGatewayApiRouter(StoreRouter):
    route_kind = "HTTPRoute"
    api_version = GATEWAY_API_VERSIONS[0]

    def route_spec(self, canary: Canary, routes: Routes) -> dict[str, Any]:
        return http_route_spec(canary, routes)

    def routes_in(self, canary: Canary, spec: dict[str, Any]) -> Routes:
        return routes_of(canary, spec)
