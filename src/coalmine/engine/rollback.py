"""Rolling back: all traffic to the primary first, then the canary (and a baseline) to zero,
then Failed.

A rollback comes from failed checks at the threshold, a rollback webhook answering
yes, a progress deadline, or a person asking for it.
"""

from __future__ import annotations

from coalmine.api.canary import AlertSeverity, CanaryWebhook, HookType, Phase
from coalmine.engine.decision import CheckResult, Decision, NeedHook, ScaleBaseline, ScaleCanary
from coalmine.engine.observations import Routes
from coalmine.engine.plan import Plan

__all__ = [
    "rollback",
    "rollback_interrupted",
    "rollback_on_deadline",
    "rollback_on_threshold",
    "rollback_on_webhook",
    "rollback_signal",
]


def rollback_signal(plan: Plan) -> CanaryWebhook | NeedHook | None:
    """The first rollback webhook that answers yes (2xx), asking for each in turn."""
    for hook in plan.hooks(HookType.ROLLBACK):
        answer = plan.observed.hooks.get(hook.name)
        if answer is None:
            assert plan.canary.status.phase is not None
            return NeedHook(hook, plan.canary.status.phase)
        if answer.ok:
            return hook
    return None


def rollback_on_threshold(plan: Plan, check: CheckResult | None) -> Decision:
    failed = plan.status.failed_checks
    plan.warn(f"Rolling back {plan.canary.key} failed checks threshold reached {failed}")
    plan.alert(AlertSeverity.ERROR, f"Failed checks threshold reached {failed}", check)
    return rollback(plan)


def rollback_on_deadline(plan: Plan, message: str) -> Decision:
    plan.warn(f"Rolling back {plan.canary.key} progress deadline exceeded {message}")
    plan.alert(AlertSeverity.ERROR, f"Progress deadline exceeded {message}")
    return rollback(plan)


def rollback_on_webhook(plan: Plan, hook: CanaryWebhook) -> Decision:
    plan.warn(f"Rollback check {hook.name} passed")
    plan.warn(f"Rolling back {plan.canary.key} manual webhook invoked")
    plan.alert(AlertSeverity.WARN, "Rolling back manual webhook invoked")
    return rollback(plan)


def rollback_interrupted(plan: Plan) -> Decision:
    """The status says the canary has traffic, the router says it has none: a rollback
    moved it and died before its status was written (or someone moved it by hand). Finish
    the rollback rather than start the analysis again on a release already judged."""
    weight = plan.canary.status.canary_weight
    plan.warn(
        f"Rolling back {plan.canary.key} traffic was taken off the canary (weight {weight} in"
        " the status, 0 on the router): finishing an interrupted rollback"
    )
    plan.alert(AlertSeverity.ERROR, "Rolling back: finishing an interrupted rollback")
    return rollback(plan)


def rollback(plan: Plan) -> Decision:
    """All traffic to the primary first, then the canary (and the baseline) to zero, then
    Failed."""
    plan.set_routes(Routes.all_primary())
    plan.act(ScaleCanary(up=False))
    if plan.has_baseline:
        plan.act(ScaleBaseline(up=False))
    plan.warn(f"Canary failed! Scaling down {plan.canary.key}")
    plan.to(Phase.FAILED, iterations=0)
    plan.post_rollout(Phase.FAILED)
    return plan.done()
