"""Which replicas to start and stop next: a rolling update with maxSurge 1, maxUnavailable 0.

Pure: it looks at the replicas as they are now and says what to do, like one sync of
Kubernetes' Deployment controller (`rolling.go`): scale the new revision up while the
total stays within desired + 1, scale old ones down only while the available replicas
stay at least the desired count, unavailable old ones first. Scaling (no new revision)
is the same rule with nothing old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_SURGE", "Plan", "ReplicaView", "plan_rollout"]

MAX_SURGE = 1
"""Replicas above the desired count while a new revision rolls out."""


@dataclass(frozen=True)
class ReplicaView:
    id: str
    revision: str
    available: bool
    """Ready for at least minReadySeconds."""
    created: float
    """When the replica was created (monotonic seconds): newer ones go first on scale-down."""


@dataclass(frozen=True)
class Plan:
    start: int = 0
    """How many replicas of the current revision to start."""
    stop: tuple[str, ...] = ()
    """Ids of the replicas to stop."""


def plan_rollout(desired: int, revision: str, replicas: Sequence[ReplicaView]) -> Plan:
    """The next step towards `desired` available replicas of `revision` and nothing else."""
    new = [r for r in replicas if r.revision == revision]
    old = [r for r in replicas if r.revision != revision]
    surplus = _scale_down_order(new)[: max(0, len(new) - desired)]
    new = [r for r in new if r not in surplus]
    old_to_stop = _old_to_stop(desired, new, old)
    remaining = len(new) + len(old) - len(old_to_stop)
    room = desired + (MAX_SURGE if old else 0) - remaining
    start = max(0, min(desired - len(new), room))
    return Plan(start=start, stop=tuple(r.id for r in [*surplus, *old_to_stop]))


def _old_to_stop(desired: int, new: list[ReplicaView], old: list[ReplicaView]) -> list[ReplicaView]:
    """Old replicas that can go without the available count falling below `desired`."""
    if desired == 0:
        return list(old)
    new_unavailable = sum(not r.available for r in new)
    budget = len(new) + len(old) - desired - new_unavailable
    unavailable_old = [r for r in old if not r.available]
    chosen = _scale_down_order(unavailable_old)[: max(0, budget)]
    budget -= len(chosen)
    available_now = sum(r.available for r in [*new, *old])
    spare = min(budget, available_now - desired)
    available_old = [r for r in old if r.available]
    return chosen + _scale_down_order(available_old)[: max(0, spare)]


def _scale_down_order(replicas: list[ReplicaView]) -> list[ReplicaView]:
    """Unavailable before available, then newest first (as Kubernetes picks pods to delete)."""
    return sorted(replicas, key=lambda r: (r.available, -r.created))
