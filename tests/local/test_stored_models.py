"""The routing rows as models: handed over by their writers, else each version parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.api.loading import LOCAL_RESOURCES, parse_resource
from coalmine.api.networking import VirtualService
from coalmine.api.workloads import Service
from coalmine.engine import Routes
from coalmine.errors import ManifestError
from coalmine.local.admission import routing_objects
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.local.stored_models import StoredModels, StoredObjectInvalid
from coalmine.routers.envoy import EnvoyRouter, release_objects
from coalmine.routing.virtual_service import virtual_service_spec
from tests.engine.builders import canary
from tests.fixtures.local import demo_manifests

KEY = ("VirtualService", "go-demo-7", "go-demo-7")


async def nothing() -> None:
    """Envoy is not part of these tests."""


@pytest.fixture
def models(tmp_path: Path) -> StoredModels:
    store = Store(tmp_path / "state.db")
    models = StoredModels(store)
    ObjectBook(store, models=models).apply(demo_manifests("0.0.1", canary=False))
    return models


async def test_a_weight_change_hands_its_model_over_and_parses_nothing_back(
    models: StoredModels,
) -> None:
    c = canary(name="go-demo-7", namespace="go-demo-7", service={"port": 80})
    router = EnvoyRouter(models.store, nothing, models)
    await router.reconcile(c)
    before = models.parsed

    await router.set_routes(c, Routes(70, 30))
    objects = routing_objects(models)

    assert models.parsed == before  # the router's model, not its row read back
    [vs] = objects.virtual_services
    weights = [d.weight for d in vs.spec.http[0].route]
    assert weights == [70, 30]
    row = models.store.get(*KEY)
    assert row is not None
    assert vs == parse_resource(row.manifest, kinds=LOCAL_RESOURCES)


async def test_the_row_keeps_the_manifest_a_user_would_write(models: StoredModels) -> None:
    """What `coalmine get virtualservice -o yaml` shows: Istio's object, nothing of the model's."""
    c = canary(name="go-demo-7", namespace="go-demo-7", service={"port": 80})
    await EnvoyRouter(models.store, nothing, models).set_routes(c, Routes(80, 20))
    row = models.store.get(*KEY)
    assert row is not None
    assert row.manifest == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "go-demo-7", "namespace": "go-demo-7"},
        "spec": virtual_service_spec(c, Routes(80, 20)),
    }


async def test_a_row_written_any_other_way_is_parsed_once(models: StoredModels) -> None:
    c = canary(name="go-demo-7", namespace="go-demo-7", service={"port": 80})
    router = EnvoyRouter(models.store, nothing)  # its own models: the runtime's see rows only
    await router.reconcile(c)
    await router.set_routes(c, Routes(60, 40))
    before = models.parsed
    routing_objects(models)
    parsed = models.parsed - before
    assert parsed == 4  # the VirtualService and the three Services the router wrote
    routing_objects(models)
    assert models.parsed - before == parsed  # unchanged rows are not parsed again

    release_objects(models.store, "go-demo-7", "go-demo-7")
    objects = routing_objects(models)
    assert objects.virtual_services == []
    assert [s.metadata.name for s in objects.services] == ["go-demo-7"]
    assert models.parsed - before == parsed + 1  # the user's Service, given back


def test_a_row_that_no_longer_validates_is_one_error_naming_the_object(
    models: StoredModels,
) -> None:
    broken = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hand-edited", "namespace": "go-demo-7"},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": "eighty"}]},
    }
    models.store.put("Service", "go-demo-7", "hand-edited", broken, owner=None)
    with pytest.raises(StoredObjectInvalid) as raised:
        routing_objects(models)
    message = str(raised.value)
    assert "service hand-edited (namespace go-demo-7) in the store: spec.ports[0].port" in message
    assert "coalmine apply -f FILE" in message
    assert raised.value.key == ("Service", "go-demo-7", "hand-edited")


def test_an_applied_object_is_handed_over_as_the_model_applied(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    models = StoredModels(store)
    book = ObjectBook(store, models=models)
    book.apply(demo_manifests("0.0.1", canary=False))
    assert models.parsed == 0
    [service] = models.of_kind("Service")
    assert isinstance(service, Service)
    assert models.of_kind("VirtualService") == []
    assert models.get(("Service", "go-demo-7", "go-demo-7")) == (service, None)
    assert all(not isinstance(m, VirtualService) for m in models.all().values())


SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: SELECTOR}
  ports: [{port: 80}]
"""

CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
immutable: true
data: {mode: VALUE}
"""


def test_a_model_handed_over_in_a_rolled_back_apply_is_not_served(tmp_path: Path) -> None:
    """A rollback gives its revisions out again: the row written next under the same
    revision must be read, not the model of the write that was undone."""
    store = Store(tmp_path / "state.db")
    models = StoredModels(store)
    book = ObjectBook(store, models=models)
    book.apply("---".join([SERVICE.replace("SELECTOR", "one"), CONFIG.replace("VALUE", "a")]))
    with pytest.raises(ManifestError, match="immutable"):  # the Service first, then refused
        book.apply("---".join([SERVICE.replace("SELECTOR", "two"), CONFIG.replace("VALUE", "b")]))
    row = store.get("Service", "demo", "web")
    assert row is not None
    manifest = {**row.manifest, "spec": {**row.manifest["spec"], "selector": {"app": "three"}}}
    store.put("Service", "demo", "web", manifest, owner=None)  # the undone write's revision

    [service] = models.of_kind("Service")
    assert service.spec.selector == {"app": "three"}
