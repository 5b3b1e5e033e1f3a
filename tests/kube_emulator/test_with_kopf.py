"""A tiny real kopf operator against the emulator: create handler, status patch, finalizer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import CRDS, call, eventually
from tests.kube_emulator.samples import GROUP, kopf_peering_documents, widget, widget_crd

WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def _operator(deleted: list[str]) -> tuple[Any, Any]:
    import kopf

    registry = kopf.OperatorRegistry()
    settings = kopf.OperatorSettings()
    settings.posting.level = logging.INFO
    settings.posting.loggers = True  # handler log lines become Kubernetes events

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        return kopf.login_with_kubeconfig(**kwargs)  # reads KUBECONFIG, as in production

    @kopf.on.create(GROUP, "v1", "widgets", registry=registry)
    def on_create(spec: Any, patch: Any, logger: Any, **_: Any) -> None:
        patch.status["phase"] = "Ready"
        patch.status["observedGeneration"] = 1
        logger.info(f"stepWeight is {spec['analysis']['stepWeight']}")

    @kopf.on.delete(GROUP, "v1", "widgets", registry=registry)
    def on_delete(name: str, **_: Any) -> None:
        deleted.append(name)

    return registry, settings


async def test_kopf_operator_reacts_patches_status_and_finalizes(
    kube_emulator: KubeEmulator,
    kubeconfig: Path,
    kube_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import kopf

    caplog.set_level(logging.INFO, logger="kopf")  # as `kopf run` does; INFO lines become events
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert (await call(kube_http, "POST", CRDS, widget_crd()))[0] == 201
    deleted: list[str] = []
    registry, settings = _operator(deleted)
    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=settings,
            standalone=True,
            namespaces=["default"],
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        assert (await call(kube_http, "POST", WIDGETS, widget("w")))[0] == 201

        def stored() -> dict[str, Any]:
            return kube_emulator.get(f"{GROUP}/v1", "widgets", "w", "default") or {}

        await eventually(lambda: stored().get("status", {}).get("phase") == "Ready")
        assert KOPF_FINALIZER in stored()["metadata"]["finalizers"]
        await eventually(
            lambda: any(
                e["reason"] == "Logging" for e in kube_emulator.objects("v1", "events", "default")
            )
        )
        assert (await call(kube_http, "DELETE", f"{WIDGETS}/w"))[0] == 200
        await eventually(lambda: not stored())
        assert deleted == ["w"]
    finally:
        stop.set()
        await asyncio.wait_for(operator, timeout=10)

    watches = [
        r for r in kube_emulator.requests_to("GET", "/widgets") if r.query.get("watch") == "true"
    ]
    assert watches
    assert all(r.query.get("allowWatchBookmarks") == "true" for r in watches)
    status_patches = kube_emulator.requests_to("PATCH", "/widgets/w/status")
    assert status_patches
    assert {r.content_type for r in status_patches} == {"application/merge-patch+json"}
    assert all(r.status == 200 for r in status_patches)


async def test_kopf_peering_with_its_own_crds(
    kube_emulator: KubeEmulator,
    kubeconfig: Path,
    kube_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kopf

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    for document in kopf_peering_documents():
        kind = document["kind"]
        plural = {"CustomResourceDefinition": "customresourcedefinitions"}.get(
            kind, kind.lower() + "s"
        )
        namespace = document["metadata"].get("namespace")
        kube_emulator.create(document["apiVersion"], plural, document, namespace=namespace)
    registry, settings = _operator([])
    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=settings,
            peering_name="default",
            namespaces=["default"],
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)

        def peers() -> dict[str, Any]:
            peering = kube_emulator.get("kopf.dev/v1", "kopfpeerings", "default", "default")
            return dict((peering or {}).get("status") or {})

        await eventually(lambda: len(peers()) == 1)
        [(identity, record)] = peers().items()
        assert record["lifetime"] > 0
        assert identity
    finally:
        stop.set()
        await asyncio.wait_for(operator, timeout=10)
