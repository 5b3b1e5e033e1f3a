"""The registry: a router per provider name, per runtime, and one error for the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coalmine.api.canary import SUPPORTED_PROVIDERS
from coalmine.engine.observations import Routes
from coalmine.errors import CoalmineError
from coalmine.kube.runtime.wiring import ROUTERS as KUBERNETES_ROUTERS
from coalmine.kube.runtime.wiring import KubeRouters
from coalmine.local.store import Store
from coalmine.local.wiring import ROUTERS as LOCAL_ROUTERS
from coalmine.routers.envoy import EnvoyRouter, LocalRouting
from coalmine.routers.gatewayapi import GatewayAPIRouter
from coalmine.routers.istio import IstioRouter
from coalmine.routers.kubernetes import KubernetesRouter
from coalmine.routers.local_gatewayapi import LocalGatewayApiRouter
from coalmine.routers.registry import (
    NOT_BUILT,
    PROVIDERS,
    RouterRegistry,
    Runtime,
    UnknownProvider,
)
from tests.engine.builders import canary


class Recording:
    """A router that records which canaries it was asked about."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, str]] = []

    async def reconcile(self, canary: Any) -> None:
        self.calls.append(("reconcile", canary.name))

    async def get_routes(self, canary: Any) -> Routes:
        self.calls.append(("get_routes", canary.name))
        return Routes.all_primary()

    async def set_routes(self, canary: Any, routes: Routes) -> None:
        self.calls.append(("set_routes", canary.name))

    async def revert(self, canary: Any, target_labels: dict[str, str]) -> dict[str, str]:
        self.calls.append(("revert", canary.name))
        return {}


def test_each_runtime_registers_exactly_the_providers_listed() -> None:
    assert (
        set(KUBERNETES_ROUTERS.factories)
        == set(PROVIDERS[Runtime.KUBERNETES])
        == {"istio", "kubernetes", "gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"}
    )
    assert (
        set(LOCAL_ROUTERS.factories)
        == set(PROVIDERS[Runtime.LOCAL])
        == {"istio", "envoy", "gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"}
    )


def test_the_api_accepts_every_provider_some_runtime_routes_and_no_other() -> None:
    assert set(SUPPORTED_PROVIDERS) == {name for names in PROVIDERS.values() for name in names}
    assert not set(NOT_BUILT) & set(SUPPORTED_PROVIDERS)


def test_a_registry_that_drifts_from_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="registers routers"):
        RouterRegistry(Runtime.KUBERNETES, {"istio": Recording, "envoy": Recording})


def test_the_factories_make_the_runtimes_routers(tmp_path: Path) -> None:
    async def nothing() -> None:
        return None

    store = Store(tmp_path / "state.db")
    for provider in ("istio", "envoy"):
        local = LOCAL_ROUTERS.create(provider, LocalRouting(store, nothing))
        assert isinstance(local, EnvoyRouter)
        assert local.store is store
    assert isinstance(
        LOCAL_ROUTERS.create("gatewayapi", LocalRouting(store, nothing)), LocalGatewayApiRouter
    )
    assert KUBERNETES_ROUTERS.factories["istio"] is IstioRouter
    assert KUBERNETES_ROUTERS.factories["kubernetes"] is KubernetesRouter
    for name in ("gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"):
        assert KUBERNETES_ROUTERS.factories[name] is GatewayAPIRouter


@pytest.mark.parametrize("runtime", list(Runtime))
def test_an_unknown_provider_names_the_known_ones(runtime: Runtime) -> None:
    registry = RouterRegistry(runtime, dict.fromkeys(PROVIDERS[runtime], Recording))
    with pytest.raises(UnknownProvider) as raised:
        registry.create("linkerd", "context")
    message = str(raised.value)
    assert message == (
        f"provider: provider 'linkerd' has no router in {runtime}; "
        f"routers: {', '.join(PROVIDERS[runtime])}."
    )
    assert isinstance(raised.value, CoalmineError)


async def test_each_canary_goes_to_its_providers_router_and_the_rest_to_the_default() -> None:
    made: dict[str, Recording] = {}

    def make(name: str) -> Recording:
        made[name] = Recording(name)
        return made[name]

    factories = {name: lambda _, name=name: make(name) for name in PROVIDERS[Runtime.LOCAL]}
    registry: RouterRegistry[str, Recording] = RouterRegistry(Runtime.LOCAL, factories)
    router = registry.dispatch("context", default="istio")
    plain, envoy = canary(name="plain"), canary(name="chosen", provider="envoy")

    await router.reconcile(plain)
    await router.set_routes(envoy, Routes.all_primary())
    await router.get_routes(envoy)
    await router.get_routes(plain)

    assert made["istio"].calls == [("reconcile", "plain"), ("get_routes", "plain")]
    assert made["envoy"].calls == [("set_routes", "chosen"), ("get_routes", "chosen")]


def test_a_default_without_a_router_is_refused_at_once() -> None:
    registry = RouterRegistry(
        Runtime.KUBERNETES, dict.fromkeys(PROVIDERS[Runtime.KUBERNETES], Recording)
    )
    with pytest.raises(UnknownProvider, match="default provider: provider 'envoy' has no router"):
        registry.dispatch("context", default="envoy")


async def test_the_operator_reverts_each_canary_with_its_providers_router() -> None:
    """kube.adapters.revert and .disown hand the traffic back through the Canary's own router."""
    made: dict[str, Recording] = {}

    def make(name: str) -> Recording:
        made[name] = Recording(name)
        return made[name]

    factories = {name: (lambda _, n=name: make(n)) for name in PROVIDERS[Runtime.KUBERNETES]}
    registry: RouterRegistry[str, Recording] = RouterRegistry(Runtime.KUBERNETES, factories)
    routers = KubeRouters(registry.dispatch("context", default="istio"))

    blue_green = {"stepWeight": None, "maxWeight": None, "iterations": 2,
                  "metrics": [{"name": "errors", "query": "sum(up)",
                               "thresholdRange": {"max": 1}}]}  # fmt: skip
    await routers.revert(canary(blue_green, name="blue-green", provider="kubernetes"), {})
    await routers.revert(canary(name="plain"), {})

    assert made["kubernetes"].calls == [("revert", "blue-green")]
    assert made["istio"].calls == [("revert", "plain")]
