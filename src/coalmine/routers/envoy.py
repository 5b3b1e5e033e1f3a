"""The local runtime's router for providers `envoy` and `istio`: the canary's Services and
VirtualService, in the local store.

The objects have the shape Istio has (see routing.virtual_service); the runtime turns
them into Envoy configuration, which is why a Canary written for Istio runs unchanged.
What every local router shares (the Services, taking over and giving back the user's
objects, returning once Envoy serves) is `routers.local_store`.
"""

from __future__ import annotations

from typing import Any

from coalmine.api.canary import Canary
from coalmine.engine.observations import Routes
from coalmine.routers.local_store import (
    ORIGINAL,
    LocalRouting,
    StoreRouter,
    owner_of,
    release_objects,
)
from coalmine.routing.virtual_service import routes_of, virtual_service_spec

__all__ = ["ORIGINAL", "EnvoyRouter", "LocalRouting", "owner_of", "release_objects"]

ISTIO = "networking.istio.io/v1beta1"


class EnvoyRouter(StoreRouter):
    route_kind = "VirtualService"
    api_version = ISTIO

    def route_spec(self, canary: Canary, routes: Routes) -> dict[str, Any]:
        return virtual_service_spec(canary, routes)

    def routes_in(self, canary: Canary, spec: dict[str, Any]) -> Routes:
        return routes_of(canary, spec)
