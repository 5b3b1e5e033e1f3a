"""The Deployment-controller stand-ins tests use to play a rollout's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.samples import deployment


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


@pytest.fixture
def web(kube_emulator: KubeEmulator) -> dict[str, Any]:
    return kube_emulator.create(
        "apps/v1", "deployments", deployment("web", replicas=3), namespace="default"
    )


async def test_complete_rollout_reports_every_replica_ready(
    kube_emulator: KubeEmulator, web: dict[str, Any], kr8s_api: Any
) -> None:
    from kr8s.asyncio.objects import Deployment

    done = kube_emulator.complete_rollout(
        "default", "web", now=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    status = done["status"]
    assert status["observedGeneration"] == done["metadata"]["generation"] == 1
    assert [
        status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    ] == [3, 3, 3, 3]
    conditions = _conditions(done)
    assert (conditions["Available"]["status"], conditions["Available"]["reason"]) == (
        "True",
        "MinimumReplicasAvailable",
    )
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == (
        "True",
        "NewReplicaSetAvailable",
    )
    assert conditions["Available"]["lastUpdateTime"] == "2030-01-02T03:04:05Z"
    assert done["metadata"]["resourceVersion"] != web["metadata"]["resourceVersion"]
    seen = await Deployment.get("web", namespace="default", api=kr8s_api)
    assert await seen.ready()


async def test_a_new_template_needs_a_new_rollout(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    kube_emulator.complete_rollout("default", "web")
    rt = kube_emulator.catalog.lookup("apps", "v1", "deployments")
    assert rt is not None
    kube_emulator.registry.patch(
        rt, "default", "web", "application/merge-patch+json", {"spec": {"replicas": 4}}
    )
    changed = kube_emulator.get("apps/v1", "deployments", "web", "default")
    assert changed is not None
    assert changed["metadata"]["generation"] == 2
    assert changed["status"]["observedGeneration"] == 1  # stale until the controller catches up
    assert kube_emulator.complete_rollout("default", "web")["status"]["observedGeneration"] == 2


async def test_stall_rollout_past_its_deadline(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    stalled = kube_emulator.stall_rollout(
        "default", "web", last_update_time=moment, ready_replicas=1
    )
    conditions = _conditions(stalled)
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == (
        "False",
        "ProgressDeadlineExceeded",
    )
    assert (conditions["Available"]["status"], conditions["Available"]["reason"]) == (
        "False",
        "MinimumReplicasUnavailable",
    )
    assert conditions["Available"]["lastUpdateTime"] == "2030-01-01T00:00:00Z"
    assert (stalled["status"]["readyReplicas"], stalled["status"]["unavailableReplicas"]) == (1, 2)


async def test_stall_rollout_without_available_replicas(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    stalled = kube_emulator.stall_rollout("default", "web", reason="MinimumReplicasUnavailable")
    conditions = _conditions(stalled)
    assert conditions["Progressing"]["status"] == "True"
    assert conditions["Available"]["reason"] == "MinimumReplicasUnavailable"
    assert "readyReplicas" not in stalled["status"]  # zero counts are omitted, as on a real server
    with pytest.raises(ValueError, match="reason must be"):
        kube_emulator.stall_rollout("default", "web", reason="Bored")


async def test_a_condition_keeps_its_transition_time_while_unchanged(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    first = kube_emulator.complete_rollout("default", "web", now=datetime(2030, 1, 1, tzinfo=UTC))
    again = kube_emulator.complete_rollout("default", "web", now=datetime(2030, 1, 2, tzinfo=UTC))
    assert (
        _conditions(again)["Available"]["lastTransitionTime"]
        == _conditions(first)["Available"]["lastTransitionTime"]
    )
    assert _conditions(again)["Available"]["lastUpdateTime"] == "2030-01-02T00:00:00Z"


def _patch(kube_emulator: KubeEmulator, body: dict[str, Any]) -> None:
    rt = kube_emulator.catalog.lookup("apps", "v1", "deployments")
    assert rt is not None
    kube_emulator.registry.patch(rt, "default", "web", "application/merge-patch+json", body)


def _image(kube_emulator: KubeEmulator, image: str) -> None:
    web = kube_emulator.get("apps/v1", "deployments", "web", "default")
    assert web is not None
    containers = web["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = image
    _patch(kube_emulator, {"spec": {"template": {"spec": {"containers": containers}}}})


T0 = datetime(2030, 1, 2, 3, 0, 0, tzinfo=UTC)


async def test_a_stuck_target_scaled_up_from_zero_never_exceeds_its_deadline(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    """As kubernetes v1.28's controller: a Deployment at zero replicas is complete whatever
    its template, and scaling a complete one up estimates no progress (syncRolloutStatus's
    isCompleteDeployment; DeploymentTimedOut is false for NewReplicaSetAvailable)."""
    _patch(kube_emulator, {"spec": {"replicas": 0, "progressDeadlineSeconds": 60}})
    kube_emulator.stuck_rollout("default", "web", now=T0)
    _image(kube_emulator, "podinfo:6.0.1")  # a new revision while at zero, as coalmine has it
    at_zero = kube_emulator.stuck_rollout("default", "web", now=T0)
    assert _conditions(at_zero)["Progressing"]["reason"] == "NewReplicaSetAvailable"
    _patch(kube_emulator, {"spec": {"replicas": 3}})  # coalmine scales the canary up

    for minutes in (1, 5, 60):
        stuck = kube_emulator.stuck_rollout("default", "web", now=T0 + timedelta(minutes=minutes))
        conditions = _conditions(stuck)
        assert conditions["Progressing"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        assert conditions["Available"]["status"] == "False"
        assert conditions["Available"]["lastTransitionTime"] == "2030-01-02T03:01:00Z"
        assert stuck["status"].get("availableReplicas", 0) == 0


async def test_a_stuck_rolling_update_exceeds_its_deadline(
    kube_emulator: KubeEmulator, web: dict[str, Any]
) -> None:
    """A new template while replicas run: a rollout whose progress is estimated."""
    _patch(kube_emulator, {"spec": {"progressDeadlineSeconds": 60}})
    kube_emulator.complete_rollout("default", "web", now=T0)
    _image(kube_emulator, "podinfo:6.0.1")
    started = kube_emulator.stuck_rollout("default", "web", now=T0)
    assert _conditions(started)["Progressing"]["reason"] == "ReplicaSetUpdated"
    within = kube_emulator.stuck_rollout("default", "web", now=T0 + timedelta(seconds=60))
    assert _conditions(within)["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert within["metadata"]["resourceVersion"] == started["metadata"]["resourceVersion"]
    past = kube_emulator.stuck_rollout("default", "web", now=T0 + timedelta(seconds=61))
    progressing = _conditions(past)["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
