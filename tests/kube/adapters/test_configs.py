"""Config tracking: references found in every form, the primary's rewrite, the revision,
and the `-primary` copies written through the workload against the API emulator."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.configs import (
    CONFIG_TRACKING,
    ConfigRef,
    ConfigTracker,
    checksum,
    primary_template,
    referenced_configs,
    revision_with_configs,
)
from coalmine.kube.adapters.disown import disown
from coalmine.kube.adapters.ownership import KEPT_FROM
from coalmine.kube.adapters.resources import CANARIES, CONFIG_MAPS, DEPLOYMENTS, SECRETS
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.kube.adapters.workload import KubeWorkload
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, stored_canary
from tests.kube_emulator import KubeEmulator

CM = "configmap"
SECRET = "secret"

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "podinfo"}},
    "spec": {
        "volumes": [
            {"name": "a", "configMap": {"name": "cm-volume"}},
            {"name": "b", "secret": {"secretName": "secret-volume"}},
            {
                "name": "c",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "cm-projected"}},
                        {"secret": {"name": "secret-projected"}},
                        {"downwardAPI": {"items": []}},
                    ]
                },
            },
            {"name": "d", "emptyDir": {}},
        ],
        "initContainers": [
            {"name": "init", "envFrom": [{"configMapRef": {"name": "cm-init"}}]},
        ],
        "containers": [
            {
                "name": "app",
                "env": [
                    {"name": "PLAIN", "value": "x"},
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "a"}}},
                    {
                        "name": "B",
                        "valueFrom": {"secretKeyRef": {"name": "secret-env", "key": "b"}},
                    },
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "envFrom": [
                    {"configMapRef": {"name": "cm-envfrom"}, "prefix": "X_"},
                    {"secretRef": {"name": "secret-envfrom"}},
                ],
            }
        ],
    },
}


def test_every_form_of_reference_is_found() -> None:
    assert referenced_configs(TEMPLATE) == {
        ConfigRef(CM, "cm-volume"),
        ConfigRef(SECRET, "secret-volume"),
        ConfigRef(CM, "cm-projected"),
        ConfigRef(SECRET, "secret-projected"),
        ConfigRef(CM, "cm-init"),
        ConfigRef(CM, "cm-env"),
        ConfigRef(SECRET, "secret-env"),
        ConfigRef(CM, "cm-envfrom"),
        ConfigRef(SECRET, "secret-envfrom"),
    }
    assert referenced_configs({"spec": {"containers": [{"name": "app"}]}}) == set()


def test_the_primary_template_names_the_primary_copies_of_tracked_configs_only() -> None:
    before = copy.deepcopy(TEMPLATE)
    tracked = referenced_configs(TEMPLATE) - {ConfigRef(SECRET, "secret-env")}

    rewritten = primary_template(TEMPLATE, tracked)

    assert before == TEMPLATE  # a copy
    spec = rewritten["spec"]
    volumes = spec["volumes"]
    assert volumes[0]["configMap"] == {"name": "cm-volume-primary"}
    assert volumes[1]["secret"] == {"secretName": "secret-volume-primary"}
    sources = volumes[2]["projected"]["sources"]
    assert sources[:2] == [
        {"configMap": {"name": "cm-projected-primary"}},
        {"secret": {"name": "secret-projected-primary"}},
    ]
    assert spec["initContainers"][0]["envFrom"] == [{"configMapRef": {"name": "cm-init-primary"}}]
    env = spec["containers"][0]["env"]
    assert env[1]["valueFrom"]["configMapKeyRef"] == {"name": "cm-env-primary", "key": "a"}
    assert env[2]["valueFrom"]["secretKeyRef"] == {"name": "secret-env", "key": "b"}  # untracked
    assert spec["containers"][0]["envFrom"] == [
        {"configMapRef": {"name": "cm-envfrom-primary"}, "prefix": "X_"},
        {"secretRef": {"name": "secret-envfrom-primary"}},
    ]
    assert referenced_configs(rewritten) == {
        ConfigRef(ref.kind, ref.primary_name) for ref in tracked
    } | {ConfigRef(SECRET, "secret-env")}


def test_the_revision_changes_with_the_content_only() -> None:
    template = pod_template_revision(TEMPLATE)
    ref = ConfigRef(CM, "cm-env")
    config = {"metadata": {"name": "cm-env", "labels": {"a": "1"}}, "data": {"a": "1"}}
    relabelled = {"metadata": {"name": "cm-env", "labels": {"a": "2"}}, "data": {"a": "1"}}
    changed = {"metadata": {"name": "cm-env"}, "data": {"a": "2"}}
    binary = {"metadata": {"name": "cm-env"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}}

    assert revision_with_configs(template, {}) == template  # no config: as before
    first = revision_with_configs(template, {ref: config})
    assert first != template and len(first) == 16
    assert revision_with_configs(template, {ref: relabelled}) == first
    assert revision_with_configs(template, {ref: changed}) != first
    assert revision_with_configs(template, {ref: binary}) != first
    assert checksum(config) != checksum(changed)


# Against the emulator -----------------------------------------------------------------


def config_map(name: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "labels": {"team": "web"}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def secret(name: str, value: str, kind: str = "Opaque") -> dict[str, Any]:
    encoded = base64.b64encode(value.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": kind,
        "data": {"password": encoded},
    }


def reading(target: dict[str, Any], *names: tuple[str, str]) -> dict[str, Any]:
    """`target` whose container reads each (kind, name) with envFrom."""
    key = {CM: "configMapRef", SECRET: "secretRef"}
    env_from = [{key[kind]: {"name": name}} for kind, name in names]
    target["spec"]["template"]["spec"]["containers"][0]["envFrom"] = env_from
    return target


async def test_opted_out_registry_and_missing_configs_are_not_tracked(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, config_map("settings", {"a": "1"}))
    create(kube_emulator, config_map("off", {"a": "1"}, **{CONFIG_TRACKING: "disabled"}))
    create(kube_emulator, secret("db", "hunter2"))
    create(kube_emulator, secret("registry", "{}", "kubernetes.io/dockerconfigjson"))
    template = reading(
        deployment(),
        (CM, "settings"), (CM, "off"), (CM, "missing"), (SECRET, "db"), (SECRET, "registry"),
    )["spec"]["template"]  # fmt: skip

    tracked = await ConfigTracker(kube_client).tracked(template, NAMESPACE)

    assert sorted(ref.key for ref in tracked) == ["configmap/settings", "secret/db"]


@pytest.fixture
def podinfo(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Any:
    create(kube_emulator, config_map("settings", {"greeting": "hello"}))
    create(kube_emulator, secret("db", "hunter2"))
    create(kube_emulator, reading(deployment(), (CM, "settings"), (SECRET, "db")))
    create(kube_emulator, canary())
    return stored_canary(kube_emulator)


def stored(emulator: KubeEmulator, kind: Any, name: str) -> dict[str, Any]:
    obj = emulator.get(kind.api_version, kind.plural, name, NAMESPACE)
    assert obj is not None, name
    return obj


async def test_the_primary_reads_copies_made_at_creation_and_refreshed_at_promotion(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)

    primary = stored(kube_emulator, DEPLOYMENTS, "podinfo-primary")
    env_from = primary["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env_from == [
        {"configMapRef": {"name": "settings-primary"}},
        {"secretRef": {"name": "db-primary"}},
    ]
    copy_ = stored(kube_emulator, CONFIG_MAPS, "settings-primary")
    assert copy_["data"] == {"greeting": "hello"}
    assert copy_["metadata"]["labels"] == {
        "team": "web",
        "app.kubernetes.io/managed-by": "coalmine",
    }
    [owner] = copy_["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "Canary",
        podinfo.metadata.uid,
        True,
    )
    secret_copy = stored(kube_emulator, SECRETS, "db-primary")
    assert secret_copy["type"] == "Opaque"
    assert secret_copy["data"] == stored(kube_emulator, SECRETS, "db")["data"]

    before = await workload.observe_target(podinfo)
    assert before is not None
    changed = {"data": {"greeting": "bonjour"}}
    await kube_client.merge_patch(CONFIG_MAPS, "settings", NAMESPACE, changed)
    after = await workload.observe_target(podinfo)
    assert after is not None and after.revision != before.revision  # the content alone
    assert stored(kube_emulator, CONFIG_MAPS, "settings-primary")["data"] == {"greeting": "hello"}

    with pytest.raises(AdapterError, match="moved from the analysed revision"):
        await workload.promote(podinfo, before.revision)  # not what the target is now
    assert stored(kube_emulator, CONFIG_MAPS, "settings-primary")["data"] == {"greeting": "hello"}

    await workload.promote(podinfo, after.revision)
    assert stored(kube_emulator, CONFIG_MAPS, "settings-primary")["data"] == {"greeting": "bonjour"}
    primary = stored(kube_emulator, DEPLOYMENTS, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["envFrom"] == env_from


async def test_a_primary_copy_that_is_not_the_canarys_is_not_overwritten(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    create(kube_emulator, config_map("settings-primary", {"mine": "yes"}))

    with pytest.raises(
        AdapterError, match=r"settings-primary\.test exists and is not owned by canary podinfo"
    ):
        await KubeWorkload(kube_client).create_primary(podinfo)

    assert stored(kube_emulator, CONFIG_MAPS, "settings-primary")["data"] == {"mine": "yes"}


async def test_copies_outlive_a_canary_deleted_without_revert_and_are_adopted_again(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    """The kept primary still reads its copies; a Canary created again takes them back."""
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)

    kept = await disown(kube_client, NAMESPACE, "podinfo", podinfo.metadata.uid or "")
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)
    kube_emulator.collect_garbage()

    assert {"configmap settings-primary", "secret db-primary"} <= set(kept)
    copied = stored(kube_emulator, CONFIG_MAPS, "settings-primary")
    assert copied["data"] == {"greeting": "hello"}
    assert copied["metadata"]["annotations"] == {KEPT_FROM: "podinfo"}

    create(kube_emulator, canary())
    second = stored_canary(kube_emulator)
    await workload.create_primary(second)
    target = await workload.observe_target(second)
    assert target is not None
    await workload.promote(second, target.revision)  # copies are refreshed at promotion

    copied = stored(kube_emulator, CONFIG_MAPS, "settings-primary")
    assert [ref["uid"] for ref in copied["metadata"]["ownerReferences"]] == [second.metadata.uid]
    assert KEPT_FROM not in (copied["metadata"].get("annotations") or {})
