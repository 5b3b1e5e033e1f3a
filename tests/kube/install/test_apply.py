"""Applying the install objects to an API server (the emulator), and failing clearly without one."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from coalmine.errors import AdapterError, Unavailable
from coalmine.kube.install.apply import FIELD_MANAGER, LAST_APPLIED, Applied, apply_objects, connect
from coalmine.kube.install.manifests import InstallOptions, install_objects
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator import metadata as emulator_metadata


async def apply(api: Any, options: InstallOptions) -> list[Applied]:
    return await apply_objects(api, install_objects(options), lambda _: None)


async def test_a_first_install_creates_everything(
    kube_emulator: KubeEmulator, kr8s_api: Any
) -> None:
    results = await apply(kr8s_api, InstallOptions())
    assert {r.action for r in results} == {"created"}
    assert (
        str(results[0])
        == "customresourcedefinition.apiextensions.k8s.io/canaries.coalmine.dev created"
    )
    assert str(results[-1]) == "deployment.apps/coalmine created"
    deployment = kube_emulator.get("apps/v1", "deployments", "coalmine", "coalmine-system")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][0] == "controller"
    role = kube_emulator.get("rbac.authorization.k8s.io/v1", "clusterroles", "coalmine")
    assert role is not None and role["rules"][0]["resources"] == ["deployments"]
    assert kube_emulator.get(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", "canaries.coalmine.dev"
    )


async def test_installing_again_changes_only_what_differs(
    kube_emulator: KubeEmulator, kr8s_api: Any
) -> None:
    await apply(kr8s_api, InstallOptions())
    again = await apply(kr8s_api, InstallOptions())
    assert [str(r) for r in again if r.action != "unchanged"] == []
    upgraded = await apply(kr8s_api, InstallOptions(image="ghcr.io/coalmine/coalmine:9.9.9"))
    assert [str(r) for r in upgraded if r.action != "unchanged"] == [
        "deployment.apps/coalmine configured"
    ]
    deployment = kube_emulator.get("apps/v1", "deployments", "coalmine", "coalmine-system")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9.9")


async def test_a_refused_object_names_itself(kube_emulator: KubeEmulator, kr8s_api: Any) -> None:
    orphan = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "coalmine", "namespace": "no-such-namespace"},
    }
    with pytest.raises(AdapterError, match="ServiceAccount coalmine: the API server refused it"):
        await apply_objects(kr8s_api, [orphan], lambda _: None)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def kubeconfig_for(server: str, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "nowhere", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "nowhere",
            }
        )
    )
    return path


async def test_no_cluster_is_unavailable_and_says_where(tmp_path: Path) -> None:
    config = kubeconfig_for(f"http://127.0.0.1:{closed_port()}", tmp_path / "config")
    with pytest.raises(Unavailable, match="cannot reach the Kubernetes API of context 'nowhere'"):
        await connect(str(config), "nowhere")


async def test_an_unknown_context_is_unavailable(tmp_path: Path) -> None:
    config = kubeconfig_for("http://127.0.0.1:1", tmp_path / "config")
    with pytest.raises(Unavailable, match=r"no usable Kubernetes configuration.*nope"):
        await connect(str(config), "nope")


async def test_reapplied_crds_stay_unchanged_while_the_clock_moves(
    kube_emulator: KubeEmulator, kr8s_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A no-op apply must not bump a CRD (the emulator once re-stamped its conditions)."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(
        emulator_metadata, "timestamp", lambda: f"2030-01-01T00:00:{next(ticks) % 60:02d}Z"
    )
    crds = [o for o in install_objects(InstallOptions()) if o["kind"] == "CustomResourceDefinition"]
    await apply_objects(kr8s_api, crds, lambda _: None)
    again = await apply_objects(kr8s_api, crds, lambda _: None)
    assert {r.action for r in again} == {"unchanged"}


DEPLOYMENT = ("apps/v1", "deployments", "coalmine", "coalmine-system")


def controller(emulator: KubeEmulator) -> dict[str, Any]:
    found = emulator.get(*DEPLOYMENT)
    assert found is not None
    return found


async def test_install_applies_server_side_as_coalmine(
    kube_emulator: KubeEmulator, kr8s_api: Any
) -> None:
    await apply(kr8s_api, InstallOptions())
    deployment = controller(kube_emulator)
    [entry] = deployment["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == (FIELD_MANAGER, "Apply")
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]
    last = json.loads(deployment["metadata"]["annotations"][LAST_APPLIED])
    assert last["spec"]["replicas"] == 1  # what `kubectl apply` diffs against: no warning
    assert kube_emulator.requests_to("PATCH")[-1].content_type == "application/apply-patch+yaml"


async def test_reinstalling_keeps_the_replicas_someone_scaled_to(
    kube_emulator: KubeEmulator, kr8s_api: Any, kube_http: aiohttp.ClientSession
) -> None:
    await apply(kr8s_api, InstallOptions())
    scale = "/apis/apps/v1/namespaces/coalmine-system/deployments/coalmine/scale"
    async with kube_http.patch(
        scale,
        json={"spec": {"replicas": 3}},
        headers={"Content-Type": "application/merge-patch+json"},
        params={"fieldManager": "kubectl-scale"},
    ) as response:
        assert response.status == 200, await response.text()

    again = await apply(kr8s_api, InstallOptions())
    assert {r.action for r in again} == {"unchanged", "configured"}
    assert controller(kube_emulator)["spec"]["replicas"] == 3


async def test_kubectl_server_side_apply_of_the_same_objects_does_not_conflict(
    kube_emulator: KubeEmulator, kr8s_api: Any, kube_http: aiohttp.ClientSession
) -> None:
    await apply(kr8s_api, InstallOptions())
    for obj in install_objects(InstallOptions()):
        path = await _url(kr8s_api, obj)
        async with kube_http.patch(
            path,
            data=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
            params={"fieldManager": "kubectl"},
        ) as response:
            assert response.status == 200, await response.text()
    managers = {e["manager"] for e in controller(kube_emulator)["metadata"]["managedFields"]}
    assert managers == {"coalmine", "kubectl"}  # the same values, shared


async def test_a_field_changed_by_another_manager_conflicts_unless_forced(
    kube_emulator: KubeEmulator, kr8s_api: Any, kube_http: aiohttp.ClientSession
) -> None:
    await apply(kr8s_api, InstallOptions())
    path = "/apis/apps/v1/namespaces/coalmine-system/deployments/coalmine"
    patch = {"spec": {"minReadySeconds": 5, "revisionHistoryLimit": 3}}
    async with kube_http.patch(
        path,
        json={"metadata": {"labels": {"app.kubernetes.io/part-of": "someone-else"}}, **patch},
        headers={"Content-Type": "application/merge-patch+json"},
        params={"fieldManager": "kubectl-edit"},
    ) as response:
        assert response.status == 200
    with pytest.raises(AdapterError) as raised:
        await apply(kr8s_api, InstallOptions())
    message = str(raised.value)
    assert message.startswith("Deployment coalmine: the API server refused it:")
    assert 'conflict with "kubectl-edit"' in message
    assert ".metadata.labels.app.kubernetes.io/part-of" in message
    assert "--force-conflicts" in message
    forced = await apply_objects(
        kr8s_api, install_objects(InstallOptions()), lambda _: None, force_conflicts=True
    )
    assert forced[-1].action == "configured"
    labels = controller(kube_emulator)["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "coalmine"


async def _url(api: Any, obj: dict[str, Any]) -> str:
    from kr8s.asyncio.objects import object_from_spec

    found = object_from_spec(obj, api=api)
    group_version = obj["apiVersion"]
    base = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    namespace = obj["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{scope}/{found.endpoint}/{obj['metadata']['name']}"
