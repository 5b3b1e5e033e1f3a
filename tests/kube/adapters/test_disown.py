"""Deleting a Canary without revertOnDeletion: what it owns stays, as the user's objects.

Against the API emulator with its garbage collector: what `disown` kept survives the
Canary; what it was not asked to keep (a Secret it owns) is collected.
The operator's side (routes to the primary first, the event) is tested end to end in
tests/e2e/test_operator.py.
"""

from __future__ import annotations

from typing import Any

from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.disown import disown
from coalmine.kube.adapters.ownership import KEPT_FROM, ORIGINAL_SPEC
from coalmine.kube.adapters.resources import (
    CANARIES,
    DEPLOYMENTS,
    SECRETS,
    SERVICES,
    VIRTUAL_SERVICES,
)
from coalmine.kube.adapters.workload import KubeWorkload
from coalmine.routers.istio import IstioRouter
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, stored_canary
from tests.kube_emulator import KubeEmulator

USERS_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo", "namespace": NAMESPACE, "labels": {"team": "web"}},
    "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": 9898}]},
}


async def test_everything_the_canary_owns_outlives_it_and_nothing_else_changes(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    create(kube_emulator, USERS_SERVICE)
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    await KubeWorkload(kube_client).create_primary(podinfo)
    await IstioRouter(kube_client).reconcile(podinfo)
    uid = podinfo.metadata.uid or ""
    owner = create(
        kube_emulator,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "owner", "namespace": NAMESPACE},
        },
    )
    other_owner = {"apiVersion": "v1", "kind": "Secret", "name": "owner",
                   "uid": owner["metadata"]["uid"]}  # fmt: skip
    create(
        kube_emulator,
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "shared", "namespace": NAMESPACE,
                      "ownerReferences": [other_owner, {**other_owner, "uid": uid,
                                                        "kind": "Canary", "name": "podinfo",
                                                        "apiVersion": "coalmine.dev/v1beta1"}]},
         "spec": {"ports": [{"port": 80}]}},
    )  # fmt: skip
    owned_secret = {"apiVersion": "coalmine.dev/v1beta1", "kind": "Canary", "name": "podinfo",
                    "uid": uid}  # fmt: skip
    create(
        kube_emulator,
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "collected", "namespace": NAMESPACE,
                      "ownerReferences": [owned_secret]}},
    )  # fmt: skip
    taken = await kube_client.get(SERVICES, "podinfo", NAMESPACE)
    assert taken is not None and ORIGINAL_SPEC in taken["metadata"]["annotations"]

    kept = await disown(kube_client, NAMESPACE, "podinfo", uid)
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)
    kube_emulator.collect_garbage()

    assert sorted(kept) == [
        "deployment podinfo-primary",
        "destinationrule podinfo-canary",
        "destinationrule podinfo-primary",
        "service podinfo-canary",
        "service podinfo-primary",
        "service shared",
        "virtualservice podinfo",
    ]
    assert await kube_client.get(SECRETS, "collected", NAMESPACE) is None  # the GC ran
    service = await kube_client.get(SERVICES, "podinfo", NAMESPACE)
    assert service is not None
    assert service["metadata"]["labels"] == {"team": "web"}  # taken over, never owned:
    assert ORIGINAL_SPEC in service["metadata"]["annotations"]  # what a revert gives back
    assert service["spec"]["selector"] == {"app": "podinfo-primary"}  # still the primary's
    vs = await kube_client.get(VIRTUAL_SERVICES, "podinfo", NAMESPACE)
    assert vs is not None and "ownerReferences" not in vs["metadata"]
    assert not vs["metadata"].get("labels")
    assert vs["metadata"]["annotations"] == {KEPT_FROM: "podinfo"}
    shared = await kube_client.get(SERVICES, "shared", NAMESPACE)
    assert shared is not None and shared["metadata"]["ownerReferences"] == [other_owner]


async def test_a_second_run_finds_nothing_to_keep(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """The deletion handler may be retried: disowning again changes nothing."""
    create(kube_emulator, deployment())
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    await KubeWorkload(kube_client).create_primary(podinfo)
    uid = podinfo.metadata.uid or ""

    assert await disown(kube_client, NAMESPACE, "podinfo", uid) == ["deployment podinfo-primary"]
    assert await disown(kube_client, NAMESPACE, "podinfo", uid) == []


async def test_a_canary_created_again_adopts_what_was_kept_and_can_revert_it(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """What was kept is coalmine's again, not taken over: a revert then restores the user's
    Service (its original spec, saved before the first Canary) and removes the rest."""
    create(kube_emulator, deployment())
    create(kube_emulator, USERS_SERVICE)
    create(kube_emulator, canary())
    first = stored_canary(kube_emulator)
    workload, router = KubeWorkload(kube_client), IstioRouter(kube_client)
    await workload.create_primary(first)
    await router.reconcile(first)
    await disown(kube_client, NAMESPACE, "podinfo", first.metadata.uid or "")
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)
    kube_emulator.collect_garbage()

    create(kube_emulator, canary(revertOnDeletion=True))
    second = stored_canary(kube_emulator)
    await workload.create_primary(second)
    await router.reconcile(second)

    for kind, name in (
        (DEPLOYMENTS, "podinfo-primary"),
        (SERVICES, "podinfo-primary"),
        (SERVICES, "podinfo-canary"),
        (VIRTUAL_SERVICES, "podinfo"),
    ):
        obj = await kube_client.get(kind, name, NAMESPACE)
        assert obj is not None
        metadata = obj["metadata"]
        assert [r["uid"] for r in metadata["ownerReferences"]] == [second.metadata.uid], name
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "coalmine"
        assert KEPT_FROM not in (metadata.get("annotations") or {})
        assert ORIGINAL_SPEC not in (metadata.get("annotations") or {})

    done = await router.revert(second, {"app": "podinfo"})

    assert done["service podinfo"] == "restored"
    assert done["virtualservice podinfo"] == "deleted"
    assert done["service podinfo-primary"] == "deleted"
    service = await kube_client.get(SERVICES, "podinfo", NAMESPACE)
    assert service is not None and service["spec"]["selector"] == {"app": "podinfo"}
