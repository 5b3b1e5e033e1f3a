"""The rolling-update plan: surge one, never below the desired available count."""

from __future__ import annotations

import itertools

import pytest

from coalmine.local.processes.rollout import Plan, ReplicaView, plan_rollout

_ids = itertools.count()


def replica(revision: str, available: bool = True, created: float = 0.0) -> ReplicaView:
    return ReplicaView(f"r{next(_ids)}", revision, available, created)


def test_a_new_deployment_starts_every_replica_at_once() -> None:
    assert plan_rollout(3, "v1", []) == Plan(start=3)


def test_a_new_revision_surges_by_one_and_keeps_the_old_ones() -> None:
    old = [replica("v1") for _ in range(3)]
    assert plan_rollout(3, "v2", old) == Plan(start=1)
    assert plan_rollout(3, "v2", [*old, replica("v2", available=False)]) == Plan()


def test_an_old_replica_goes_once_a_new_one_is_available() -> None:
    old = [replica("v1") for _ in range(3)]
    plan = plan_rollout(3, "v2", [*old, replica("v2")])
    assert plan.start == 1 and len(plan.stop) == 1 and plan.stop[0] in {r.id for r in old}


def test_unavailable_old_replicas_go_first() -> None:
    healthy, crashing = replica("v1"), replica("v1", available=False)
    plan = plan_rollout(2, "v2", [healthy, crashing, replica("v2"), replica("v2")])
    assert plan.stop == (crashing.id, healthy.id)


def test_scaling_down_stops_unavailable_then_newest_replicas() -> None:
    oldest, newer, newest = (replica("v1", created=t) for t in (1.0, 2.0, 3.0))
    broken = replica("v1", available=False, created=0.0)
    assert plan_rollout(2, "v1", [oldest, newer, newest, broken]).stop == (broken.id, newest.id)


def test_scaling_to_zero_stops_everything() -> None:
    replicas = [replica("v1"), replica("v2", available=False)]
    assert set(plan_rollout(0, "v2", replicas).stop) == {r.id for r in replicas}


@pytest.mark.parametrize("desired", [1, 2, 3, 5])
def test_a_whole_rollout_never_drops_below_desired_nor_surges_past_one(desired: int) -> None:
    replicas = [replica("v1", created=-1.0) for _ in range(desired)]
    for step in range(100):
        plan = plan_rollout(desired, "v2", replicas)
        replicas = [r for r in replicas if r.id not in plan.stop]
        assert sum(r.available for r in replicas) >= desired
        replicas += [replica("v2", available=False, created=step) for _ in range(plan.start)]
        assert len(replicas) <= desired + 1
        if plan == Plan() and all(r.available for r in replicas):
            break
        # The started replica becomes available before the next pass.
        replicas = [ReplicaView(r.id, r.revision, True, r.created) for r in replicas]
    assert sorted(r.revision for r in replicas) == ["v2"] * desired
