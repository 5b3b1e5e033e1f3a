"""The local router's objects: generated, taken over from the user, given back."""

from __future__ import annotations

from pathlib import Path

from coalmine.engine import Routes
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.routers.envoy import EnvoyRouter, release_objects
from tests.engine.builders import canary
from tests.fixtures.local import demo_manifests


async def nothing() -> None:
    """Envoy is not part of these tests."""


async def test_the_router_takes_over_the_users_service_and_gives_it_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    ObjectBook(store).apply(demo_manifests("0.0.1", canary=False))
    users_service = store.get("Service", "go-demo-7", "go-demo-7")
    assert users_service is not None
    router = EnvoyRouter(store, nothing)
    c = canary(name="go-demo-7", namespace="go-demo-7", service={"port": 80, "targetPort": 8080})

    await router.reconcile(c)
    await router.set_routes(c, Routes(80, 20))
    apex = store.get("Service", "go-demo-7", "go-demo-7")
    assert apex is not None
    assert apex.owner == "Canary/go-demo-7"
    assert apex.manifest["spec"]["selector"] == {"app": "go-demo-7-primary"}
    assert await router.get_routes(c) == Routes(80, 20)
    await router.reconcile(c)  # drift repair keeps the weights
    assert await router.get_routes(c) == Routes(80, 20)

    release_objects(store, "go-demo-7", "go-demo-7")
    restored = store.get("Service", "go-demo-7", "go-demo-7")
    assert restored is not None
    assert (restored.owner, restored.manifest) == (None, users_service.manifest)
    assert store.get("Service", "go-demo-7", "go-demo-7-canary") is None
    assert store.get("VirtualService", "go-demo-7", "go-demo-7") is None


async def test_generated_services_carry_the_apex_primary_and_canary_metadata(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    ObjectBook(store).apply(demo_manifests("0.0.1", canary=False))
    c = canary(
        name="go-demo-7",
        namespace="go-demo-7",
        service={
            "port": 80,
            "apex": {"labels": {"tier": "apex"}, "annotations": {"note": "a"}},
            "primary": {"labels": {"tier": "primary"}},
            "canary": {"annotations": {"note": "c"}},
        },
    )
    await EnvoyRouter(store, nothing).reconcile(c)

    def metadata(name: str) -> dict[str, object]:
        stored = store.get("Service", "go-demo-7", name)
        assert stored is not None
        return dict(stored.manifest["metadata"])

    assert metadata("go-demo-7")["labels"] == {"tier": "apex"}
    assert metadata("go-demo-7")["annotations"]["note"] == "a"  # type: ignore[index]
    assert metadata("go-demo-7-primary")["labels"] == {"tier": "primary"}
    assert metadata("go-demo-7-canary")["annotations"] == {"note": "c"}


async def test_with_a_baseline_its_service_and_weight_are_kept_and_given_back(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    ObjectBook(store).apply(demo_manifests("0.0.1", canary=False))
    c = canary(
        {"judge": {"errors": {"maxIncrease": 1}, "baseline": True}},
        name="go-demo-7",
        namespace="go-demo-7",
        service={"port": 80, "targetPort": 8080},
    )
    router = EnvoyRouter(store, nothing)
    await router.reconcile(c)
    await router.set_routes(c, Routes(60, 20, baseline=20))

    baseline = store.get("Service", "go-demo-7", "go-demo-7-baseline")
    assert baseline is not None and baseline.owner == "Canary/go-demo-7"
    assert baseline.manifest["spec"]["selector"] == {"app": "go-demo-7-baseline"}
    vs = store.get("VirtualService", "go-demo-7", "go-demo-7")
    assert vs is not None
    hosts = [d["destination"]["host"] for d in vs.manifest["spec"]["http"][0]["route"]]
    assert hosts == ["go-demo-7-primary", "go-demo-7-canary", "go-demo-7-baseline"]
    await router.reconcile(c)  # drift repair keeps the three weights
    assert await router.get_routes(c) == Routes(60, 20, baseline=20)

    release_objects(store, "go-demo-7", "go-demo-7")
    assert store.get("Service", "go-demo-7", "go-demo-7-baseline") is None
