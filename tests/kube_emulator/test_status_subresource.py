"""The status subresource: writes to the object ignore status, writes to /status all but status."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import call
from tests.kube_emulator.samples import GROUP, deployment, widget, widget_crd

WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def created(kube_http: aiohttp.ClientSession) -> dict[str, Any]:
    await call(
        kube_http, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd()
    )
    _, body = await call(kube_http, "POST", WIDGETS, {**widget("w"), "status": {"phase": "Sneaky"}})
    return dict(body)


async def test_create_drops_status(created: dict[str, Any]) -> None:
    assert "status" not in created


async def test_writes_to_the_object_ignore_status(
    kube_http: aiohttp.ClientSession, created: dict[str, Any]
) -> None:
    _, patched = await call(
        kube_http,
        "PATCH",
        f"{WIDGETS}/w",
        {"spec": {"mode": "canary"}, "status": {"phase": "X"}},
        headers=MERGE,
    )
    assert patched["spec"]["mode"] == "canary"
    assert "status" not in patched


async def test_writes_to_status_ignore_everything_else(
    kube_http: aiohttp.ClientSession, created: dict[str, Any]
) -> None:
    body = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"mode": "canary"},
        "status": {"phase": "Ready", "observedGeneration": 1},
    }
    status, patched = await call(kube_http, "PATCH", f"{WIDGETS}/w/status", body, headers=MERGE)
    assert status == 200
    assert patched["status"] == {"phase": "Ready", "observedGeneration": 1}
    assert "mode" not in patched["spec"]
    assert "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1
    _, put = await call(
        kube_http, "PUT", f"{WIDGETS}/w/status", {**patched, "status": {"phase": "Done"}}
    )
    assert put["status"] == {"phase": "Done"}


async def test_status_is_validated_against_the_schema(
    kube_http: aiohttp.ClientSession, created: dict[str, Any]
) -> None:
    status, body = await call(
        kube_http,
        "PATCH",
        f"{WIDGETS}/w/status",
        {"status": {"observedGeneration": "one"}},
        headers=MERGE,
    )
    assert (status, body["details"]["causes"][0]["field"]) == (422, "status.observedGeneration")


async def test_without_the_subresource_status_is_plain_content(
    kube_http: aiohttp.ClientSession,
) -> None:
    await call(
        kube_http,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        widget_crd(status=False),
    )
    _, created = await call(kube_http, "POST", WIDGETS, {**widget("w"), "status": {"phase": "Set"}})
    assert created["status"] == {"phase": "Set"}
    status, _ = await call(kube_http, "GET", f"{WIDGETS}/w/status")
    assert status == 404
    _, patched = await call(
        kube_http, "PATCH", f"{WIDGETS}/w", {"status": {"phase": "Next"}}, headers=MERGE
    )
    assert (
        patched["metadata"]["generation"] == 2
    )  # without the subresource, status counts as content


async def test_deployment_scale_subresource(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    await call(kube_http, "POST", path, deployment("web", replicas=2))
    status, scale = await call(kube_http, "GET", f"{path}/web/scale")
    assert (status, scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]) == (
        200,
        "Scale",
        2,
        "app=web",
    )
    status, scaled = await call(
        kube_http, "PATCH", f"{path}/web/scale", {"spec": {"replicas": 0}}, headers=MERGE
    )
    assert (status, scaled["spec"]["replicas"]) == (200, 0)
    stored = kube_emulator.get("apps/v1", "deployments", "web", "default")
    assert stored is not None
    assert stored["spec"]["replicas"] == 0
    assert stored["metadata"]["generation"] == 2


async def test_a_status_write_checks_the_unchanged_spec_against_a_changed_schema(
    kube_http: aiohttp.ClientSession, created: dict[str, Any]
) -> None:
    """The emulator does not look again into a spec it admitted under the same schema,
    but a CRD changed since counts: kube-apiserver 1.28 validates the whole object on a
    status write, so a spec the new schema refuses blocks the status too."""
    status, _ = await call(
        kube_http, "PATCH", f"{WIDGETS}/w/status", {"status": {"phase": "A"}}, headers=MERGE
    )
    assert status == 200
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}"
    _, crd = await call(kube_http, "GET", crd_path)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["analysis"]["properties"]["stepWeight"][
        "maximum"
    ] = 5  # the stored spec has 10
    status, _ = await call(kube_http, "PUT", crd_path, crd)
    assert status == 200
    status, body = await call(
        kube_http, "PATCH", f"{WIDGETS}/w/status", {"status": {"phase": "B"}}, headers=MERGE
    )
    assert (status, body["details"]["causes"][0]["field"]) == (422, "spec.analysis.stepWeight")


async def test_a_status_write_keeps_the_admitted_spec_as_stored(
    kube_http: aiohttp.ClientSession, created: dict[str, Any]
) -> None:
    status, first = await call(
        kube_http, "PATCH", f"{WIDGETS}/w/status", {"status": {"phase": "A"}}, headers=MERGE
    )
    status, second = await call(
        kube_http, "PATCH", f"{WIDGETS}/w/status", {"status": {"phase": "B"}}, headers=MERGE
    )
    assert status == 200
    assert second["spec"] == first["spec"] == created["spec"]
    assert second["spec"]["analysis"]["interval"] == "1m"  # the default, kept
    assert list(second) == list(first)  # the fields in the same order
