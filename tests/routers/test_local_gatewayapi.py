"""The local gatewayapi router's objects in the local store: the Services and the
HTTPRoute, weights read back, a user's HTTPRoute taken over and given back, and every
write followed by the sync that has Envoy serve it."""

from __future__ import annotations

from pathlib import Path

from coalmine.engine import Routes
from coalmine.local.admission import routing_objects
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.local.stored_models import StoredModels
from coalmine.routers.local_gatewayapi import LocalGatewayApiRouter
from coalmine.routers.local_store import ORIGINAL, LocalRouting, release_objects
from tests.engine.builders import canary
from tests.fixtures.local import demo_manifests

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: go-demo-7}
spec:
  gatewayClassName: coalmine
  listeners: [{name: http, port: 80, protocol: HTTP}]
"""

USERS_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  parentRefs: [{name: public}]
  rules: [{backendRefs: [{name: go-demo-7, port: 80}]}]
"""

SERVICE = {"port": 80, "targetPort": 8080, "gatewayRefs": [{"name": "public"}]}


class Syncs:
    """Stands in for the runtime's sync (Envoy is not part of these tests): counts calls."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


async def test_the_router_writes_the_http_route_and_reads_its_weights_back(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    ObjectBook(store).apply(demo_manifests("0.0.1", canary=False) + "---" + GATEWAY)
    syncs = Syncs()
    router = LocalGatewayApiRouter(store, syncs)
    c = canary(name="go-demo-7", namespace="go-demo-7", provider="gatewayapi", service=SERVICE)

    await router.reconcile(c)
    assert await router.get_routes(c) == Routes.all_primary()
    await router.set_routes(c, Routes(60, 40))

    route = store.get("HTTPRoute", "go-demo-7", "go-demo-7")
    assert route is not None and route.owner == "Canary/go-demo-7"
    assert route.manifest["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route.manifest["spec"]["parentRefs"] == [{"name": "public"}]
    [rule] = route.manifest["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [
        ("go-demo-7-primary", 60),
        ("go-demo-7-canary", 40),
    ]
    assert await router.get_routes(c) == Routes(60, 40)
    await router.reconcile(c)  # drift repair keeps the weights
    assert await router.get_routes(c) == Routes(60, 40)
    assert syncs.count == 3  # every write is pushed to Envoy before the call returns
    assert store.get("VirtualService", "go-demo-7", "go-demo-7") is None


async def test_a_users_http_route_is_taken_over_and_given_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    book = ObjectBook(store)
    book.apply(demo_manifests("0.0.1", canary=False) + "---" + GATEWAY + "---" + USERS_ROUTE)
    users = store.get("HTTPRoute", "go-demo-7", "go-demo-7")
    assert users is not None
    router = LocalGatewayApiRouter(store, Syncs())
    c = canary(name="go-demo-7", namespace="go-demo-7", provider="gatewayapi", service=SERVICE)

    await router.reconcile(c)
    taken = store.get("HTTPRoute", "go-demo-7", "go-demo-7")
    assert taken is not None and taken.owner == "Canary/go-demo-7"
    assert ORIGINAL in taken.manifest["metadata"]["annotations"]
    assert [str(a) for a in book.apply(USERS_ROUTE)] == [
        "httproute/go-demo-7 unchanged (namespace go-demo-7)"  # the canary's keeps serving
    ]

    release_objects(store, "go-demo-7", "go-demo-7")
    restored = store.get("HTTPRoute", "go-demo-7", "go-demo-7")
    assert restored is not None
    assert (restored.owner, restored.manifest) == (None, users.manifest)


async def test_the_http_route_reaches_the_data_plane_as_the_model_the_router_made(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    models = StoredModels(store)
    ObjectBook(store, models=models).apply(demo_manifests("0.0.1", canary=False) + "---" + GATEWAY)
    router = LocalGatewayApiRouter.of(LocalRouting(store, Syncs(), models))
    c = canary(name="go-demo-7", namespace="go-demo-7", provider="gatewayapi", service=SERVICE)
    await router.reconcile(c)
    parsed = models.parsed

    await router.set_routes(c, Routes(70, 30))

    [route] = routing_objects(models).http_routes
    assert models.parsed == parsed  # handed over, not read back from its row
    [rule] = route.spec.rules or []
    assert [(b.name, b.weight) for b in rule.backend_refs or []] == [
        ("go-demo-7-primary", 70),
        ("go-demo-7-canary", 30),
    ]
