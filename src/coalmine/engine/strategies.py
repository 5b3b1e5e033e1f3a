"""One step of each strategy (canary, A/B testing, blue/green), promotion and finalising.

Called by `decide` once the checks of a tick passed.
"""

from __future__ import annotations

from coalmine.api.canary import AlertSeverity, HookType, Phase
from coalmine.engine.decision import Decision, Need, NeedHook, ScaleBaseline, ScaleCanary
from coalmine.engine.observations import Routes
from coalmine.engine.plan import Plan, gate
from coalmine.engine.weights import TOTAL_WEIGHT, next_canary_weight, next_promotion_routes

__all__ = ["copy_to_primary", "finalise", "shift_to_primary", "step"]


def step(plan: Plan) -> Decision | Need:
    strategy = plan.analysis.strategy
    if strategy == "ab":
        return _step_ab(plan)
    if strategy == "bluegreen":
        return _step_blue_green(plan)
    return _step_canary(plan)


def _step_canary(plan: Plan) -> Decision | Need:
    analysis = plan.analysis
    routes = plan.routes
    if routes.canary >= analysis.effective_max_weight:
        return _promote(plan)
    if analysis.mirror and routes.canary == 0 and not routes.mirrored:
        held = _traffic_increase_gate(plan)
        if held is not None:
            return held
        plan.set_routes(Routes(TOTAL_WEIGHT, 0, mirrored=True))
        plan.advance("canary weight 0, mirroring traffic to the canary")
        return plan.done()
    if not routes.mirrored:
        held = _traffic_increase_gate(plan)
        if held is not None:
            return held
    weight = next_canary_weight(analysis, routes.canary)
    plan.set_routes(Routes.weighted(weight, baseline=plan.has_baseline))
    also = f", baseline weight {weight}" if plan.has_baseline else ""
    plan.advance(f"canary weight {weight}{also}")
    return plan.done()


def _traffic_increase_gate(plan: Plan) -> Decision | Need | None:
    """None when every confirm-traffic-increase gate is open."""
    closed = gate(plan, HookType.CONFIRM_TRAFFIC_INCREASE)
    if isinstance(closed, NeedHook):
        return closed
    if closed is not None:
        key = plan.canary.key
        plan.warn(f"Halt {key} advancement waiting for traffic increase approval {closed.name}")
        if not closed.mute_alert:
            plan.alert(AlertSeverity.WARN, "Canary traffic increase is waiting for approval.")
        return plan.done()
    for hook in plan.hooks(HookType.CONFIRM_TRAFFIC_INCREASE):
        plan.info(f"Confirm-traffic-increase check {hook.name} passed")
    return None


def _step_ab(plan: Plan) -> Decision | Need:
    done, total = plan.canary.status.iterations, plan.analysis.iterations
    if done < total:
        plan.set_routes(Routes(0, TOTAL_WEIGHT))
        plan.update(iterations=done + 1)
        plan.advance(f"canary iteration {done + 1}/{total}")
        return plan.done()
    return _promote(plan)


def _step_blue_green(plan: Plan) -> Decision | Need:
    analysis = plan.analysis
    done, total = plan.canary.status.iterations, analysis.iterations
    if done < total:
        if analysis.mirror and not plan.routes.mirrored:
            plan.set_routes(Routes(TOTAL_WEIGHT, 0, mirrored=True))
        plan.update(iterations=done + 1)
        plan.advance(f"canary iteration {done + 1}/{total}")
        return plan.done()
    if done == total:
        held = _promotion_gate(plan)
        if held is not None:
            return held
        switch = "Stop traffic mirroring and route" if analysis.mirror else "Routing"
        plan.info(f"{switch} all traffic to canary")
        plan.set_routes(Routes(0, TOTAL_WEIGHT))
        plan.update(iterations=done + 1)
        return plan.done()
    return copy_to_primary(plan)


def _promote(plan: Plan) -> Decision | Need:
    held = _promotion_gate(plan)
    if held is not None:
        return held
    return copy_to_primary(plan)


def _promotion_gate(plan: Plan) -> Decision | Need | None:
    """None when every confirm-promotion gate is open; else hold in WaitingPromotion."""
    canary = plan.canary
    closed = gate(plan, HookType.CONFIRM_PROMOTION)
    if isinstance(closed, NeedHook):
        return closed
    if closed is not None:
        if canary.status.phase != Phase.WAITING_PROMOTION:
            plan.to(Phase.WAITING_PROMOTION)
            plan.warn(f"Halt {canary.key} advancement waiting for promotion approval {closed.name}")
            if not closed.mute_alert:
                plan.alert(AlertSeverity.WARN, "Canary promotion is waiting for approval.")
        return plan.done()
    for hook in plan.hooks(HookType.CONFIRM_PROMOTION):
        plan.info(f"Confirm-promotion check {hook.name} passed")
    return None


def copy_to_primary(plan: Plan) -> Decision:
    canary = plan.canary
    plan.act(plan.promote_action())
    plan.info(
        f"Copying {canary.target_key} template spec to {canary.primary_name}.{canary.namespace}"
    )
    plan.to(Phase.PROMOTING)
    return plan.done()


# Promotion ------------------------------------------------------------------------------


def shift_to_primary(plan: Plan) -> Decision:
    routes = next_promotion_routes(plan.analysis, plan.routes)
    plan.set_routes(routes)
    if plan.analysis.step_weight_promotion is None:
        plan.info("Routing all traffic to primary")
    else:
        plan.advance(f"primary weight {routes.primary}")
    if routes.primary == TOTAL_WEIGHT:
        plan.to(Phase.FINALISING)
    return plan.done()


def finalise(plan: Plan) -> Decision:
    plan.act(ScaleCanary(up=False))
    if plan.has_baseline:
        plan.act(ScaleBaseline(up=False))
    plan.to(Phase.SUCCEEDED, iterations=0)
    plan.info(f"Promotion completed! Scaling down {plan.canary.target_key}")
    plan.alert(AlertSeverity.INFO, "Canary analysis completed successfully, promotion finished.")
    plan.post_rollout(Phase.SUCCEEDED)
    return plan.done()
