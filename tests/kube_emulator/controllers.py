"""Deployment statuses as the Deployment controller writes them (the emulator runs none).

Tests call these through `KubeEmulator.complete_rollout` / `stall_rollout` to play the
controller's part: after a finished rollout, every replica of the current template is
updated and available; a stuck one reports `Available=False` and, past its deadline,
`Progressing=False/ProgressDeadlineExceeded`. Zero counts are omitted, as the real
status serialises them (`omitempty`). A condition keeps its lastTransitionTime while its
status does not change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
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
