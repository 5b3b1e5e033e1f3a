"""Is a workload ready, and if not, has it run out of time? (Flagger's isDeploymentReady.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from coalmine.engine.observations import WorkloadState

__all__ = ["Readiness", "judge_readiness"]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    message: str = ""
    deadline_exceeded: bool = False
    """Not ready for longer than the progress deadline: waiting longer will not help."""


READY = Readiness(ready=True)


def judge_readiness(
    name: str,
    state: WorkloadState,
    *,
    ready_threshold: int,
    deadline: timedelta,
    now: datetime,
) -> Readiness:
    """Judge one workload.

    `ready_threshold` is the percent of updated replicas that must be available.
    """
    if not state.settled:
        return Readiness(
            False, "waiting for rollout to finish: observed deployment generation less than desired"
        )
    if state.deadline_exceeded:
        return Readiness(False, f'deployment "{name}" exceeded its progress deadline', True)
    stuck = state.unavailable_since is not None and now - state.unavailable_since > deadline
    total = state.updated if state.total is None else state.total
    needed = int(state.updated * ready_threshold / 100)
    if state.updated < state.replicas:
        message = (
            f"waiting for rollout to finish: {state.updated} out of {state.replicas} "
            "new replicas have been updated"
        )
    elif total > state.updated:
        message = (
            f"waiting for rollout to finish: {total - state.updated} old replicas "
            "are pending termination"
        )
    elif state.available < needed:
        message = (
            f"waiting for rollout to finish: {state.available} of {state.updated} "
            "updated replicas are available"
        )
    elif state.replicas == 0:
        return Readiness(False, f"halt advancement: {name} is scaled to zero")
    else:
        return READY
    if stuck:
        message = f"{message}; unavailable for longer than the progress deadline of {deadline}"
    return Readiness(False, message, stuck)
