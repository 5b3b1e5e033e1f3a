"""Deployment statuses as the Deployment controller writes them (the emulator runs none).

Tests call these through `KubeEmulator.complete_rollout` / `stall_rollout` /
`stuck_rollout` to play the controller's part: after a finished rollout, every replica of
the current template is updated and available; a stuck one reports `Available=False` and,
past its deadline, `Progressing=False/ProgressDeadlineExceeded`. Zero counts are omitted,
as the real status serialises them (`omitempty`). A condition keeps its
lastTransitionTime while its status does not change.

Like the real controller, both write a `ScalingReplicaSet` Event about the Deployment
when the replica count changes (`scaling_event`), so a namespace holds Events of other
components than coalmine, as on a real cluster.

`stuck_status` follows the real controller (kubernetes v1.28, pkg/controller/deployment/
progress.go `syncRolloutStatus` and util/deployment_util.go `DeploymentTimedOut`) for pods
that never become ready:
- a Deployment at zero replicas is complete at once (Progressing=True,
  NewReplicaSetAvailable), whatever its template;
- when its Progressing condition says NewReplicaSetAvailable for the current ReplicaSet
  and replicas == updatedReplicas, the controller treats the rollout as complete and
  estimates no progress: scaling such a Deployment up (what coalmine does to a canary
  given a new image while at zero) never sets ProgressDeadlineExceeded, only Available=False;
- a new template while replicas are running starts a rollout (Progressing=True,
  ReplicaSetUpdated); with no progress for `spec.progressDeadlineSeconds` (default 600)
  it becomes Progressing=False, ProgressDeadlineExceeded.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from . import metadata

Obj = dict[str, Any]


def replica_set_name(deployment: Obj) -> str:
    """A stable stand-in for the current ReplicaSet's name (name + template hash)."""
    template = json.dumps(deployment.get("spec", {}).get("template", {}), sort_keys=True)
    digest = hashlib.sha256(template.encode()).hexdigest()[:10]
    return f"{deployment['metadata']['name']}-{digest}"


def _condition(old: Obj, kind: str, status: str, reason: str, message: str, moment: str) -> Obj:
    previous = next((c for c in old.get("conditions", []) if c.get("type") == kind), None)
    unchanged = previous is not None and previous.get("status") == status
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": moment,
        "lastTransitionTime": previous["lastTransitionTime"] if unchanged and previous else moment,
        "reason": reason,
        "message": message,
    }


def _counts(**counts: int) -> Obj:
    return {key: value for key, value in counts.items() if value}


def completed_status(deployment: Obj | None, now: datetime | None = None) -> Obj:
    if deployment is None:
        raise KeyError("no such Deployment")
    moment, old = metadata.timestamp(now), deployment.get("status", {})
    replicas = deployment["spec"].get("replicas", 1)
    replica_set = replica_set_name(deployment)
    return {
        "observedGeneration": deployment["metadata"]["generation"],
        **_counts(
            replicas=replicas,
            updatedReplicas=replicas,
            readyReplicas=replicas,
            availableReplicas=replicas,
        ),
        "conditions": [
            _condition(
                old,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                moment,
            ),
            _condition(
                old,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{replica_set}" has successfully progressed.',
                moment,
            ),
        ],
    }


def stalled_status(
    deployment: Obj | None, reason: str, last_update: datetime | None, ready: int
) -> Obj:
    if deployment is None:
        raise KeyError("no such Deployment")
    if reason not in ("ProgressDeadlineExceeded", "MinimumReplicasUnavailable"):
        raise ValueError(
            f"reason must be ProgressDeadlineExceeded or MinimumReplicasUnavailable, not {reason!r}"
        )
    moment, old = metadata.timestamp(last_update), deployment.get("status", {})
    replicas = deployment["spec"].get("replicas", 1)
    replica_set = replica_set_name(deployment)
    if reason == "ProgressDeadlineExceeded":
        progressing = _condition(
            old,
            "Progressing",
            "False",
            reason,
            f'ReplicaSet "{replica_set}" has timed out progressing.',
            moment,
        )
    else:
        progressing = _condition(
            old,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{replica_set}" is progressing.',
            moment,
        )
    available = _condition(
        old,
        "Available",
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
        moment,
    )
    return {
        "observedGeneration": deployment["metadata"]["generation"],
        **_counts(
            replicas=replicas,
            updatedReplicas=replicas,
            readyReplicas=ready,
            availableReplicas=ready,
            unavailableReplicas=replicas - ready,
        ),
        "conditions": [available, progressing],
    }


_RS_IN_MESSAGE = re.compile(r'ReplicaSet "([^"]+)"')


def stuck_status(deployment: Obj | None, now: datetime | None = None) -> Obj:
    """The status the real controller writes for a rollout whose pods never get ready."""
    if deployment is None:
        raise KeyError("no such Deployment")
    spec = deployment["spec"]
    replicas = spec.get("replicas", 1)
    old = deployment.get("status", {})
    if replicas == 0:
        settled = old.get("observedGeneration") == deployment["metadata"]["generation"]
        return old if settled else completed_status(deployment, now)
    replica_set = replica_set_name(deployment)
    previous = next((c for c in old.get("conditions", []) if c.get("type") == "Progressing"), {})
    completed_here = (
        previous.get("reason") == "NewReplicaSetAvailable" and _rs_of(previous) == replica_set
    )
    moment = metadata.timestamp(now)
    if completed_here or (
        previous.get("reason") == "ProgressDeadlineExceeded" and _rs_of(previous) == replica_set
    ):
        progressing = previous
    elif previous.get("reason") == "ReplicaSetUpdated" and _rs_of(previous) == replica_set:
        progressing = _timed_out(deployment, previous, replica_set, now) or previous
    else:
        progressing = _condition(
            old,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{replica_set}" is progressing.',
            moment,
        )
    available = _unchanged(old, "Available", "False") or _condition(
        old,
        "Available",
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
        moment,
    )
    return {
        "observedGeneration": deployment["metadata"]["generation"],
        **_counts(replicas=replicas, updatedReplicas=replicas, unavailableReplicas=replicas),
        "conditions": [available, progressing],
    }


def _rs_of(condition: Obj) -> str | None:
    found = _RS_IN_MESSAGE.search(condition.get("message", ""))
    return found.group(1) if found else None


def _unchanged(old: Obj, kind: str, status: str) -> Obj | None:
    """The condition as it is, when it already has `status` (no new lastUpdateTime)."""
    current = next((c for c in old.get("conditions", []) if c.get("type") == kind), None)
    return current if current is not None and current.get("status") == status else None


def _timed_out(
    deployment: Obj, progressing: Obj, replica_set: str, now: datetime | None
) -> Obj | None:
    """Progressing=False/ProgressDeadlineExceeded once no progress for the deadline."""
    deadline = timedelta(seconds=deployment["spec"].get("progressDeadlineSeconds", 600))
    moment = now or datetime.now(UTC)
    last = datetime.fromisoformat(progressing["lastUpdateTime"].replace("Z", "+00:00"))
    if moment - last <= deadline:
        return None
    return _condition(
        deployment.get("status", {}),
        "Progressing",
        "False",
        "ProgressDeadlineExceeded",
        f'ReplicaSet "{replica_set}" has timed out progressing.',
        metadata.timestamp(now),
    )


DEPLOYMENT_CONTROLLER = "deployment-controller"


def scaling_event(deployment: Obj, status: Obj, now: datetime | None = None) -> Obj | None:
    """The Event the real Deployment controller writes when it scales the current
    ReplicaSet (kubernetes v1.28, pkg/controller/deployment/sync.go `scaleReplicaSet`:
    reason ScalingReplicaSet, "Scaled up replica set <rs> to <n> from <m>"), or None when
    the new status keeps the replica count. Its name is the involved object's name and a
    nanosecond timestamp, as client-go's recorder makes them."""
    before = int(deployment.get("status", {}).get("replicas") or 0)
    after = int(status.get("replicas") or 0)
    if before == after:
        return None
    meta, moment = deployment["metadata"], metadata.timestamp(now)
    direction = "up" if after > before else "down"
    stamp = int((now or datetime.now(UTC)).timestamp() * 1e9)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{stamp:x}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
        },
        "reason": "ScalingReplicaSet",
        "message": f"Scaled {direction} replica set {replica_set_name(deployment)}"
        f" to {after} from {before}",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "source": {"component": DEPLOYMENT_CONTROLLER},
        "reportingComponent": DEPLOYMENT_CONTROLLER,
        "reportingInstance": "",
    }
