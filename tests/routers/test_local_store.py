"""What the local routers share: StoreRouter's two hooks are abstract, so a router that
leaves one out fails when it is made, naming the hook, not at its first tick."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.canary import Canary
from coalmine.engine import Routes
from coalmine.local.store import Store
from coalmine.routers.envoy import EnvoyRouter
from coalmine.routers.local_gatewayapi import LocalGatewayApiRouter
from coalmine.routers.local_store import StoreRouter


async def _sync() -> None:
    return None


class WritesOnly(StoreRouter):
    """Renders its routing object but cannot read the weights back."""

    route_kind = "VirtualService"
    api_version = "networking.istio.io/v1beta1"

    def route_spec(self, canary: Canary, routes: Routes) -> dict[str, Any]:
        return {}


def test_a_store_router_without_one_of_its_hooks_cannot_be_made(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with pytest.raises(TypeError, match="routes_in"):
        WritesOnly(store, _sync)  # type: ignore[abstract]
    with pytest.raises(TypeError, match="route_spec"):
        StoreRouter(store, _sync)  # type: ignore[abstract]


def test_the_local_routers_give_both_hooks() -> None:
    assert inspect.isabstract(StoreRouter)
    for router in (EnvoyRouter, LocalGatewayApiRouter):
        assert not inspect.isabstract(router), router.__abstractmethods__
