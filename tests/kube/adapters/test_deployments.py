"""A Deployment's status as the engine reads it (what Flagger's isDeploymentReady looks at)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coalmine.kube.adapters.deployments import workload_state
from tests.fixtures.operator import deployment
from tests.kube_emulator.controllers import completed_status, stalled_status

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def written(status: dict[str, Any], generation: int = 1, replicas: int = 2) -> dict[str, Any]:
    obj = deployment(replicas=replicas)
    obj["metadata"]["generation"] = generation
    obj["status"] = status
    return obj


def test_a_finished_rollout_is_settled_and_available() -> None:
    obj = written({})
    obj["status"] = completed_status(obj, WHEN)

    state = workload_state(obj)

    assert (state.replicas, state.updated, state.available, state.total) == (2, 2, 2, 2)
    assert state.settled and not state.deadline_exceeded and state.unavailable_since is None


def test_a_new_generation_not_yet_observed_is_not_settled() -> None:
    obj = written({})
    obj["status"] = completed_status(obj, WHEN)
    obj["metadata"]["generation"] = 2

    assert not workload_state(obj).settled


def test_a_stuck_rollout_reports_its_deadline_and_since_when() -> None:
    obj = written({})
    obj["status"] = stalled_status(obj, "ProgressDeadlineExceeded", WHEN, 0)

    state = workload_state(obj)

    assert state.deadline_exceeded
    assert state.unavailable_since == WHEN
    assert state.available == 0


def test_minimum_replicas_unavailable_is_not_yet_a_deadline() -> None:
    obj = written({})
    obj["status"] = stalled_status(obj, "MinimumReplicasUnavailable", WHEN, 1)

    state = workload_state(obj)

    assert not state.deadline_exceeded
    assert (state.available, state.unavailable_since) == (1, WHEN)


def test_no_status_yet_means_nothing_ready_and_default_replicas() -> None:
    obj = deployment()
    del obj["spec"]["replicas"]
    obj["metadata"]["generation"] = 1

    state = workload_state(obj)

    assert (state.replicas, state.updated, state.available, state.settled) == (1, 0, 0, False)
