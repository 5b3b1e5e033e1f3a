"""How a canary's status moves from one phase to the next (Flagger's SyncStatus/SetStatusPhase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from coalmine.api.canary import CanaryCondition, CanaryStatus, Phase

__all__ = ["promoted_condition", "to_phase"]

ConditionStatus = Literal["True", "False", "Unknown"]

_PROMOTED: dict[Phase, tuple[ConditionStatus, str]] = {
    Phase.INITIALIZING: ("Unknown", "New {kind} detected, starting initialization."),
    Phase.INITIALIZED: ("True", "{kind} initialization completed."),
    Phase.WAITING: ("Unknown", "Waiting for approval."),
    Phase.WAITING_PROMOTION: ("Unknown", "Waiting for approval."),
    Phase.PROGRESSING: ("Unknown", "New revision detected, progressing canary analysis."),
    Phase.PROMOTING: ("Unknown", "Canary analysis completed, starting primary rolling update."),
    Phase.FINALISING: ("Unknown", "Canary analysis completed, routing all traffic to primary."),
    Phase.SUCCEEDED: ("True", "Canary analysis completed successfully, promotion finished."),
    Phase.FAILED: ("False", "Canary analysis failed, {kind} promotion failed."),
    Phase.TERMINATING: ("Unknown", "Canary is being deleted, restoring the original objects."),
    Phase.TERMINATED: ("Unknown", "Canary deleted, the original objects were restored."),
}


def promoted_condition(
    current: CanaryCondition | None, phase: Phase, now: datetime, kind: str
) -> CanaryCondition | None:
    """The Promoted condition for a phase, or None when the current one already says it."""
    status, message = _PROMOTED[phase]
    if current is not None and current.status == status and current.reason == phase.value:
        return None
    keep_since = current is not None and current.status == status
    return CanaryCondition(
        status=status,
        reason=phase.value,
        message=message.format(kind=kind),
        last_update_time=now,
        last_transition_time=current.last_transition_time if keep_since and current else now,
    )


def to_phase(
    status: CanaryStatus, phase: Phase, now: datetime, *, kind: str = "Deployment", **fields: Any
) -> CanaryStatus:
    """The status after moving to `phase`, with other fields changed as given.

    Entering Initialized or Succeeded records the analysed revision as the promoted one.
    """
    changes: dict[str, Any] = {"phase": phase, **fields}
    if phase != status.phase:
        changes["last_transition_time"] = now
    condition = promoted_condition(status.promoted, phase, now, kind)
    if condition is not None:
        changes["conditions"] = [c for c in status.conditions if c.type != "Promoted"] + [condition]
    updated = status.model_copy(update=changes)
    if phase in (Phase.INITIALIZED, Phase.SUCCEEDED):
        updated = updated.model_copy(update={"last_promoted_spec": updated.last_applied_spec})
    return updated
