"""The Canary status, written through the status subresource, with conflict retries."""

from __future__ import annotations

from typing import Any

import pytest

from coalmine.api.canary import CanaryStatus, Phase
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import CANARIES, Kind
from coalmine.kube.adapters.store import KubeCanaryStore, StatusSuperseded
from tests.fixtures.operator import NAMESPACE, canary, create, stored_canary
from tests.kube_emulator import KubeEmulator

STATUS = CanaryStatus(phase=Phase.PROGRESSING, canary_weight=20, failed_checks=1)


class EditedBeforeEveryWrite(KubeClient):
    """Someone else edits the Canary just before each status write (a label)."""

    edits = 0

    async def replace(
        self, kind: Kind, name: str, namespace: str | None, body: Obj, *, subresource: str = ""
    ) -> Obj:
        self.edits += 1
        await self.merge_patch(
            kind, name, namespace, {"metadata": {"labels": {"n": str(self.edits)}}}
        )
        return await super().replace(kind, name, namespace, body, subresource=subresource)


def stored(emulator: KubeEmulator) -> dict[str, Any]:
    obj = emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert obj is not None
    return obj


async def test_the_status_is_replaced_and_the_spec_left_alone(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    first = await KubeCanaryStore(kube_client).write_status(stored_canary(kube_emulator), STATUS)
    later = CanaryStatus(phase=Phase.SUCCEEDED)

    second = await KubeCanaryStore(kube_client).write_status(first, later)

    obj = stored(kube_emulator)
    assert obj["status"] == {"phase": "Succeeded", "failedChecks": 0, "canaryWeight": 0,
                             "iterations": 0, "conditions": [], "checks": []}  # fmt: skip
    assert obj["spec"]["analysis"]["stepWeight"] == 20
    assert obj["metadata"]["generation"] == 1
    assert second.metadata.resource_version == obj["metadata"]["resourceVersion"]
    assert second.status == later
    status_writes = kube_emulator.requests_to("PUT", "/canaries/podinfo/status")
    assert [r.status for r in status_writes] == [200, 200]


async def test_a_conflict_is_retried_on_the_fresh_copy(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)  # read before someone edits it
    await kube_client.merge_patch(
        CANARIES, "podinfo", NAMESPACE, {"metadata": {"labels": {"edited": "yes"}}}
    )

    written = await KubeCanaryStore(kube_client).write_status(podinfo, STATUS)

    obj = stored(kube_emulator)
    assert obj["status"]["canaryWeight"] == 20
    assert obj["metadata"]["labels"] == {"edited": "yes"}
    assert written.metadata.resource_version == obj["metadata"]["resourceVersion"]
    statuses = [r.status for r in kube_emulator.requests_to("PUT", "/canaries/podinfo/status")]
    assert statuses == [409, 200]


async def test_a_status_another_replica_wrote_meanwhile_is_not_overwritten(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    # A replica paused (a long garbage collection) past its shard's Lease: the new owner
    # ticked the Canary to Succeeded; the paused replica's tick, decided from the older
    # read, must not put it back to Progressing.
    create(kube_emulator, canary())
    started = await KubeCanaryStore(kube_client).write_status(stored_canary(kube_emulator), STATUS)
    await KubeCanaryStore(kube_client).write_status(started, CanaryStatus(phase=Phase.SUCCEEDED))
    late = STATUS.model_copy(update={"canary_weight": 40})

    with pytest.raises(StatusSuperseded, match=r"canary podinfo\.test was written by another"):
        await KubeCanaryStore(kube_client).write_status(started, late)

    assert stored(kube_emulator)["status"]["phase"] == "Succeeded"


async def test_a_status_flagger_wrote_is_read_the_same_on_both_sides_of_a_conflict(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    # Flagger's form (no coalmine fields, its own time format) compared with itself: a
    # label edit still gets the tick's status written onto the fresh copy.
    create(kube_emulator, canary())
    flaggers = {
        "phase": "Progressing", "canaryWeight": 20, "failedChecks": 1, "iterations": 0,
        "lastTransitionTime": "2026-12-02T10:00:00Z",
        "conditions": [{"type": "Promoted", "status": "Unknown", "reason": "Progressing",
                        "lastUpdateTime": "2026-12-02T10:00:00Z",
                        "lastTransitionTime": "2026-12-02T09:59:00Z"}],
    }  # fmt: skip
    kube_emulator.set_status("coalmine.dev/v1beta1", "canaries", "podinfo", flaggers, NAMESPACE)
    podinfo = stored_canary(kube_emulator)
    await kube_client.merge_patch(
        CANARIES, "podinfo", NAMESPACE, {"metadata": {"labels": {"edited": "yes"}}}
    )

    await KubeCanaryStore(kube_client).write_status(
        podinfo, STATUS.model_copy(update={"canary_weight": 40})
    )

    assert stored(kube_emulator)["status"]["canaryWeight"] == 40


async def test_a_deletion_phase_is_written_over_a_status_changed_meanwhile(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    await KubeCanaryStore(kube_client).write_status(podinfo, STATUS)
    terminating = CanaryStatus(phase=Phase.TERMINATING)

    await KubeCanaryStore(kube_client).write_status(podinfo, terminating, supersede=True)

    assert stored(kube_emulator)["status"]["phase"] == "Terminating"


async def test_conflicts_without_end_fail_after_the_bounded_attempts(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    client = EditedBeforeEveryWrite(kube_client.api, kube_client.settings)
    client.transport = kube_client.transport  # its connections, closed with it

    with pytest.raises(AdapterError, match="conflicted 3 times"):
        await KubeCanaryStore(client, attempts=3).write_status(stored_canary(kube_emulator), STATUS)

    assert client.edits == 3
    assert "phase" not in (stored(kube_emulator).get("status") or {})


async def test_a_deleted_canary_is_named(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)

    with pytest.raises(AdapterError, match=r"canary podinfo\.test was deleted"):
        await KubeCanaryStore(kube_client).write_status(podinfo, STATUS)
