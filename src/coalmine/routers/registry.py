"""Routers by provider name, chosen as Flagger chooses them: a Canary's `spec.provider`,
else the runtime's default (the controller's `--mesh-provider`).

`PROVIDERS` says, per runtime, which of Flagger's provider names coalmine can route
with. It imports no router, so that the controller's flag and `coalmine validate` check a
name without loading kr8s. Each runtime builds one `RouterRegistry` from it with the
factories of its routers (Kubernetes: `kube.runtime.wiring`, the local runtime: `local.wiring`);
the registry refuses to be built unless its factories are exactly the names listed here,
so the list and the routers cannot drift apart.

`RouterRegistry.dispatch` gives the engine one Router port that sends each Canary to the
router of its provider (one instance per provider, made on first use). An unknown
provider is one error naming the ones this runtime has, and Flagger's that coalmine has
not built yet (`NOT_BUILT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from coalmine.api.canary import GATEWAY_API_PROVIDERS, SUPPORTED_PROVIDERS, Canary
from coalmine.engine.observations import Routes
from coalmine.engine.ports import Router
from coalmine.errors import CoalmineError

__all__ = [
    "NOT_BUILT",
    "PROVIDERS",
    "ProviderRouter",
    "RouterRegistry",
    "Runtime",
    "UnknownProvider",
    "check_provider",
    "unknown_provider",
]


class Runtime(StrEnum):
    """Where coalmine runs a canary; each has its own routers."""

    KUBERNETES = "Kubernetes"
    LOCAL = "the local runtime"


PROVIDERS: Mapping[Runtime, tuple[str, ...]] = {
    Runtime.KUBERNETES: ("istio", "kubernetes", *GATEWAY_API_PROVIDERS),
    Runtime.LOCAL: ("istio", "envoy", *GATEWAY_API_PROVIDERS),
}
"""Flagger's provider names each runtime has a router for. Locally, `istio` and `envoy`
are both the local Envoy router: it serves Istio's objects (`routers.envoy`); the
gatewayapi names (Flagger's `gatewayapi:v1`, `gatewayapi:v1beta1`), one router in each
runtime, write a Gateway API HTTPRoute, which locally Envoy serves too
(`routers.local_gatewayapi`)."""

NOT_BUILT: Mapping[str, str] = {}
"""Flagger's providers that coalmine has no router for yet, and what they do."""

C = TypeVar("C")
"""What a runtime gives its routers to act through (the Kubernetes client, the local store)."""
R = TypeVar("R", bound=Router)


class UnknownProvider(CoalmineError):
    """A provider this runtime has no router for."""


def unknown_provider(provider: str, runtime: Runtime) -> str:
    """The one message for a provider `runtime` cannot route with."""
    known = ", ".join(PROVIDERS[runtime])
    missing = "; ".join(f"{name} ({what})" for name, what in NOT_BUILT.items())
    message = f"provider {provider!r} has no router in {runtime}; routers: {known}."
    return f"{message} Not built yet: {missing}" if missing else message


def check_provider(provider: str, runtime: Runtime, *, where: str) -> str:
    """`provider` when `runtime` has a router for it; else UnknownProvider, prefixed by
    `where` (the flag or field that named it)."""
    if provider not in PROVIDERS[runtime]:
        raise UnknownProvider(f"{where}: {unknown_provider(provider, runtime)}")
    return provider


class RouterRegistry(Generic[C, R]):
    """The routers of one runtime: provider name -> a factory taking the runtime's `C`."""

    def __init__(self, runtime: Runtime, factories: Mapping[str, Callable[[C], R]]) -> None:
        if set(factories) != set(PROVIDERS[runtime]):
            raise ValueError(
                f"{runtime} registers routers {sorted(factories)}; "
                f"routers.registry.PROVIDERS lists {list(PROVIDERS[runtime])}"
            )
        unknown = set(factories) - set(SUPPORTED_PROVIDERS)
        if unknown:
            raise ValueError(f"spec.provider refuses {sorted(unknown)}: add them to the api")
        self.runtime = runtime
        self.factories = dict(factories)

    def create(self, provider: str, context: C) -> R:
        """A new router for `provider`; UnknownProvider listing the known ones."""
        check_provider(provider, self.runtime, where="provider")
        return self.factories[provider](context)

    def dispatch(self, context: C, *, default: str) -> ProviderRouter[R]:
        """The Router port for every Canary of this runtime: `spec.provider`, else `default`."""
        check_provider(default, self.runtime, where="default provider")
        return ProviderRouter(lambda provider: self.create(provider, context), default)


class ProviderRouter(Generic[R]):
    """The Router port: each Canary goes to the router of its provider."""

    def __init__(self, create: Callable[[str], R], default: str) -> None:
        self._create = create
        self.default = default
        self._routers: dict[str, R] = {}

    def router(self, provider: str) -> R:
        """The one router of `provider`, made on first use."""
        if provider not in self._routers:
            self._routers[provider] = self._create(provider)
        return self._routers[provider]

    def of(self, canary: Canary) -> R:
        return self.router(canary.spec.provider or self.default)

    async def reconcile(self, canary: Canary) -> None:
        await self.of(canary).reconcile(canary)

    async def get_routes(self, canary: Canary) -> Routes:
        return await self.of(canary).get_routes(canary)

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        await self.of(canary).set_routes(canary, routes)
