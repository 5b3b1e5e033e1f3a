"""The decision: from (canary, observations, now) to what happens next. No I/O.

This is Flagger's scheduler tick, split into one small function per situation. When a
decision depends on something not yet observed (the weights, a webhook's answer, the
metrics), `decide` returns a Need; the tick observes it and calls `decide` again with
the answer added. Webhooks are asked for one at a time, so that a gate that fails
stops the ones after it, as in Flagger.

Where coalmine departs from Flagger on purpose:
- A rollback happens in the tick where failedChecks reaches the threshold, not one
  interval later: the same number of failures, one interval less of bad traffic.
- The weight never passes maxWeight, even when stepWeight does not divide it.
- A new revision restarts the analysis in WaitingPromotion too, so that a revision
  that was never analysed cannot be promoted.
- status.canaryWeight always equals the canary weight last set on the router.
- failedChecks stays visible in the Failed status; a new revision resets it.
- confirm-traffic-increase gates are called only when the weight is about to rise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from coalmine.api.canary import (
    AlertSeverity,
    Canary,
    CanaryAnalysis,
    CanaryWebhook,
    HookType,
    Phase,
)
from coalmine.engine.analysis import judge_all, to_check_status
from coalmine.engine.decision import (
    Action,
    Alert,
    CheckResult,
    CreatePrimary,
    Decision,
    Event,
    EventType,
    Need,
    NeedHook,
    NeedMeasurements,
    NeedRoutes,
    Promote,
    ReconcileRouting,
    RunHooks,
    ScaleCanary,
    SetRoutes,
)
from coalmine.engine.observations import HookResult, Observations, Routes, WorkloadState
from coalmine.engine.readiness import Readiness, judge_readiness
from coalmine.engine.status import to_phase
from coalmine.engine.weights import TOTAL_WEIGHT, next_canary_weight, next_promotion_routes

__all__ = ["decide"]

ANALYSIS_PHASES = (Phase.PROGRESSING, Phase.WAITING_PROMOTION)
"""Phases in which checks run and a rollback can happen."""
BUSY_PHASES = (*ANALYSIS_PHASES, Phase.WAITING, Phase.PROMOTING, Phase.FINALISING)
"""Phases in which there is work to do at every tick."""


def decide(canary: Canary, observed: Observations, now: datetime) -> Decision | Need:
    """One tick of the canary's life. Pure: the same inputs always give the same answer."""
    plan = _Plan(canary, observed, now)
    phase = canary.status.phase
    if canary.spec.suspend or phase in (Phase.TERMINATING, Phase.TERMINATED):
        return plan.done()
    if observed.target is None:
        plan.warn(f"deployment {canary.target_key} not found")
        return plan.done()
    if observed.primary is None:
        return _create_primary(plan)
    if phase in (None, Phase.INITIALIZING):
        return _initialize(plan, observed.primary)
    if observed.routes is None:
        return NeedRoutes()
    if phase not in BUSY_PHASES and not _is_new_revision(canary, observed.target):
        return plan.done()
    return _advance(plan, observed.target, observed.primary)


class _Plan:
    """Collects one decision: actions in order, the next status, events and alerts."""

    def __init__(self, canary: Canary, observed: Observations, now: datetime) -> None:
        self.canary = canary
        self.observed = observed
        self.now = now
        self.status = canary.status
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.alerts: list[Alert] = []
        self.checks: tuple[CheckResult, ...] = ()
        self.followups: list[RunHooks] = []

    @property
    def analysis(self) -> CanaryAnalysis:
        return self.canary.spec.analysis

    @property
    def routes(self) -> Routes:
        assert self.observed.routes is not None
        return self.observed.routes

    def act(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def info(self, message: str) -> None:
        self.events.append(Event(message))

    def warn(self, message: str) -> None:
        self.events.append(Event(message, EventType.WARNING))

    def alert(
        self, severity: AlertSeverity, message: str, check: CheckResult | None = None
    ) -> None:
        self.alerts.append(Alert(severity, message, check))

    def to(self, phase: Phase, **fields: Any) -> None:
        kind = self.canary.spec.target_ref.kind or "Deployment"
        self.status = to_phase(self.status, phase, self.now, kind=kind, **fields)

    def update(self, **fields: Any) -> None:
        self.status = self.status.model_copy(update=fields)

    def set_routes(self, routes: Routes) -> None:
        self.act(SetRoutes(routes))
        self.update(canary_weight=routes.canary)

    def hooks(self, hook_type: HookType) -> list[CanaryWebhook]:
        return [hook for hook in self.analysis.webhooks if hook.type == hook_type]

    def done(self) -> Decision:
        return Decision(
            self.status,
            tuple(self.actions),
            tuple(self.events),
            tuple(self.alerts),
            self.checks,
            tuple(self.followups),
        )


# Initialization ----------------------------------------------------------------------


def _create_primary(plan: _Plan) -> Decision:
    canary = plan.canary
    plan.act(CreatePrimary())
    plan.info(f"Creating {canary.primary_name}.{canary.namespace} from {canary.target_key}")
    if canary.status.phase is None:
        plan.to(Phase.INITIALIZING)
    return plan.done()


def _initialize(plan: _Plan, primary: WorkloadState) -> Decision:
    canary = plan.canary
    if canary.status.phase is None:
        plan.to(Phase.INITIALIZING)
    if not canary.spec.skip_analysis:
        readiness = _primary_readiness(plan, primary)
        if not readiness.ready:
            plan.warn(f"{canary.primary_name}.{canary.namespace} not ready: {readiness.message}")
            return plan.done()
    assert plan.observed.target is not None
    plan.act(ReconcileRouting())
    plan.set_routes(Routes.all_primary())
    plan.act(ScaleCanary(up=False))
    plan.to(
        Phase.INITIALIZED,
        last_applied_spec=plan.observed.target.revision,
        failed_checks=0,
        iterations=0,
    )
    plan.info(f"Initialization done! {canary.key}")
    plan.alert(AlertSeverity.INFO, "New Deployment detected, initialization completed.")
    return plan.done()


# A new revision -----------------------------------------------------------------------


def _is_new_revision(canary: Canary, target: WorkloadState) -> bool:
    """A revision neither analysed last nor promoted.

    Reverting the target to the promoted revision starts nothing (a manual rollback).
    """
    status = canary.status
    return target.revision not in (status.last_promoted_spec, status.last_applied_spec)


def _advance(plan: _Plan, target: WorkloadState, primary: WorkloadState) -> Decision | Need:
    canary = plan.canary
    phase = canary.status.phase
    if not canary.spec.skip_analysis:
        readiness = _primary_readiness(plan, primary)
        if not readiness.ready:
            return _primary_not_ready(plan, readiness)
    if phase not in (*ANALYSIS_PHASES, Phase.PROMOTING, Phase.FINALISING):
        return _start_revision(plan, target)
    if phase in ANALYSIS_PHASES and _is_new_revision(canary, target):
        return _restart(plan, target)
    readiness = judge_readiness(
        canary.target_key,
        target,
        ready_threshold=plan.analysis.canary_ready_threshold,
        deadline=timedelta(seconds=canary.spec.progress_deadline_seconds),
        now=plan.now,
    )
    if not readiness.ready and not readiness.deadline_exceeded:
        plan.warn(f"canary deployment {canary.target_key} not ready: {readiness.message}")
        return plan.done()
    if canary.spec.skip_analysis:
        return _skip_analysis(plan, readiness)
    return _continue(plan, readiness)


def _primary_readiness(plan: _Plan, primary: WorkloadState) -> Readiness:
    canary = plan.canary
    return judge_readiness(
        f"{canary.primary_name}.{canary.namespace}",
        primary,
        ready_threshold=plan.analysis.primary_ready_threshold,
        deadline=timedelta(seconds=canary.spec.progress_deadline_seconds),
        now=plan.now,
    )


def _primary_not_ready(plan: _Plan, readiness: Readiness) -> Decision:
    canary = plan.canary
    in_flight = canary.status.phase in (*ANALYSIS_PHASES, Phase.PROMOTING)
    if readiness.deadline_exceeded and in_flight:
        return _rollback_on_deadline(
            plan, f"{canary.primary_name}.{canary.namespace}: {readiness.message}"
        )
    plan.warn(f"{canary.primary_name}.{canary.namespace} not ready: {readiness.message}")
    return plan.done()


def _start_revision(plan: _Plan, target: WorkloadState) -> Decision | Need:
    """Initialized, Succeeded, Failed or Waiting, and the target has a revision to analyse."""
    canary = plan.canary
    waiting = canary.status.phase == Phase.WAITING
    if not _is_new_revision(canary, target):
        return _withdrawn(plan, target)
    gate = _gate(plan, HookType.CONFIRM_ROLLOUT)
    if isinstance(gate, NeedHook):
        return gate
    if gate is not None:
        if not waiting:
            plan.to(Phase.WAITING)
            plan.warn(f"Halt {canary.key} advancement waiting for approval {gate.name}")
            if not gate.mute_alert:
                plan.alert(AlertSeverity.WARN, "Canary is waiting for approval.")
        return plan.done()
    if waiting:
        for hook in plan.hooks(HookType.CONFIRM_ROLLOUT):
            plan.info(f"Confirm-rollout check {hook.name} passed")
    plan.act(ScaleCanary(up=True))
    _begin_analysis(plan, target)
    plan.info(f"New revision detected! Scaling up {canary.target_key}")
    plan.alert(AlertSeverity.INFO, "New revision detected, progressing canary analysis.")
    return plan.done()


def _withdrawn(plan: _Plan, target: WorkloadState) -> Decision:
    """Waiting for approval, and the target went back to a revision already judged."""
    status = plan.canary.status
    if target.revision == status.last_promoted_spec:
        plan.to(Phase.INITIALIZED, last_applied_spec=target.revision)
    else:
        plan.to(Phase.FAILED)
    plan.info(
        f"Revision of {plan.canary.target_key} went back to one already judged; nothing to analyse"
    )
    return plan.done()


def _restart(plan: _Plan, target: WorkloadState) -> Decision:
    plan.set_routes(Routes.all_primary())
    _begin_analysis(plan, target)
    plan.info(f"New revision detected! Restarting analysis for {plan.canary.target_key}")
    return plan.done()


def _begin_analysis(plan: _Plan, target: WorkloadState) -> None:
    plan.to(
        Phase.PROGRESSING,
        last_applied_spec=target.revision,
        canary_weight=0,
        failed_checks=0,
        iterations=0,
        analysis_start_time=plan.now,
        checks=[],
    )


def _skip_analysis(plan: _Plan, readiness: Readiness) -> Decision:
    canary = plan.canary
    if readiness.deadline_exceeded:
        return _rollback_on_deadline(plan, readiness.message)
    plan.set_routes(Routes.all_primary())
    plan.act(_promote_action(plan), ScaleCanary(up=False))
    plan.to(Phase.SUCCEEDED, iterations=0)
    plan.info(
        f"Copying {canary.target_key} template spec to {canary.primary_name}.{canary.namespace}"
    )
    plan.info(f"Promotion completed! Canary analysis was skipped for {canary.target_key}")
    plan.alert(AlertSeverity.INFO, "Canary analysis was skipped, promotion finished.")
    return plan.done()


# The analysis ---------------------------------------------------------------------------


def _continue(plan: _Plan, canary_readiness: Readiness) -> Decision | Need:
    """In analysis or promotion, with a canary that is ready or out of time."""
    status = plan.canary.status
    if status.phase in ANALYSIS_PHASES:
        signal = _rollback_signal(plan)
        if isinstance(signal, NeedHook):
            return signal
        if signal is not None:
            return _rollback_on_webhook(plan, signal)
    if status.phase == Phase.PROMOTING:
        return _shift_to_primary(plan)
    if status.phase == Phase.FINALISING:
        return _finalise(plan)
    if canary_readiness.deadline_exceeded:
        return _rollback_on_deadline(plan, canary_readiness.message)
    if status.failed_checks >= plan.analysis.failure_threshold:
        return _rollback_on_threshold(plan, None)
    return _run_checks(plan)


def _run_checks(plan: _Plan) -> Decision | Need:
    canary = plan.canary
    routes = plan.routes
    starting = (
        routes.canary == 0
        and canary.status.iterations == 0
        and not (plan.analysis.mirror and routes.mirrored)
    )
    if starting:
        failed = _gate(plan, HookType.PRE_ROLLOUT)
        if isinstance(failed, NeedHook):
            return failed
        plan.info(f"Starting canary analysis for {canary.target_key}")
        if failed is not None:
            message = plan.observed.hooks[failed.name].message
            plan.warn(
                f"Halt {canary.key} advancement pre-rollout check {failed.name} failed {message}"
            )
            return _count_failure(plan, None)
        for hook in plan.hooks(HookType.PRE_ROLLOUT):
            plan.info(f"Pre-rollout check {hook.name} passed")
        return _step(plan)
    failed = _gate(plan, HookType.ROLLOUT)
    if isinstance(failed, NeedHook):
        return failed
    if failed is not None:
        message = plan.observed.hooks[failed.name].message
        plan.warn(f"Halt {canary.key} advancement external check {failed.name} failed {message}")
        return _count_failure(plan, None)
    return _judge_metrics(plan)


def _judge_metrics(plan: _Plan) -> Decision | Need:
    metrics = tuple(plan.analysis.metrics)
    measurements = plan.observed.measurements
    if metrics and measurements is None:
        return NeedMeasurements(metrics)
    checks = judge_all(metrics, measurements or {})
    plan.checks = checks
    plan.update(checks=[to_check_status(check, plan.now) for check in checks])
    failing = [check for check in checks if not check.passed]
    for check in failing:
        query = f" (query: {check.query})" if check.query else ""
        plan.warn(f"Halt advancement {plan.canary.key} {check.describe()}{query}")
    if failing:
        return _count_failure(plan, failing[0])
    return _step(plan)


def _count_failure(plan: _Plan, check: CheckResult | None) -> Decision:
    failed = plan.canary.status.failed_checks + 1
    plan.update(failed_checks=failed)
    if failed >= plan.analysis.failure_threshold:
        return _rollback_on_threshold(plan, check)
    return plan.done()


# Strategies ----------------------------------------------------------------------------


def _step(plan: _Plan) -> Decision | Need:
    strategy = plan.analysis.strategy
    if strategy == "ab":
        return _step_ab(plan)
    if strategy == "bluegreen":
        return _step_blue_green(plan)
    return _step_canary(plan)


def _step_canary(plan: _Plan) -> Decision | Need:
    analysis = plan.analysis
    routes = plan.routes
    if routes.canary >= analysis.effective_max_weight:
        return _promote(plan)
    if analysis.mirror and routes.canary == 0 and not routes.mirrored:
        held = _traffic_increase_gate(plan)
        if held is not None:
            return held
        plan.set_routes(Routes(TOTAL_WEIGHT, 0, mirrored=True))
        plan.info(f"Advance {plan.canary.key} canary weight 0, mirroring traffic to the canary")
        return plan.done()
    if not routes.mirrored:
        held = _traffic_increase_gate(plan)
        if held is not None:
            return held
    weight = next_canary_weight(analysis, routes.canary)
    plan.set_routes(Routes(TOTAL_WEIGHT - weight, weight))
    plan.info(f"Advance {plan.canary.key} canary weight {weight}")
    return plan.done()


def _traffic_increase_gate(plan: _Plan) -> Decision | Need | None:
    """None when every confirm-traffic-increase gate is open."""
    gate = _gate(plan, HookType.CONFIRM_TRAFFIC_INCREASE)
    if isinstance(gate, NeedHook):
        return gate
    if gate is not None:
        plan.warn(
            f"Halt {plan.canary.key} advancement waiting for traffic increase approval {gate.name}"
        )
        if not gate.mute_alert:
            plan.alert(AlertSeverity.WARN, "Canary traffic increase is waiting for approval.")
        return plan.done()
    for hook in plan.hooks(HookType.CONFIRM_TRAFFIC_INCREASE):
        plan.info(f"Confirm-traffic-increase check {hook.name} passed")
    return None


def _step_ab(plan: _Plan) -> Decision | Need:
    done, total = plan.canary.status.iterations, plan.analysis.iterations
    if done < total:
        plan.set_routes(Routes(0, TOTAL_WEIGHT))
        plan.update(iterations=done + 1)
        plan.info(f"Advance {plan.canary.key} canary iteration {done + 1}/{total}")
        return plan.done()
    return _promote(plan)


def _step_blue_green(plan: _Plan) -> Decision | Need:
    analysis = plan.analysis
    done, total = plan.canary.status.iterations, analysis.iterations
    if done < total:
        if analysis.mirror and not plan.routes.mirrored:
            plan.set_routes(Routes(TOTAL_WEIGHT, 0, mirrored=True))
        plan.update(iterations=done + 1)
        plan.info(f"Advance {plan.canary.key} canary iteration {done + 1}/{total}")
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
    return _copy_to_primary(plan)


def _promote(plan: _Plan) -> Decision | Need:
    held = _promotion_gate(plan)
    if held is not None:
        return held
    return _copy_to_primary(plan)


def _promotion_gate(plan: _Plan) -> Decision | Need | None:
    """None when every confirm-promotion gate is open; else hold in WaitingPromotion."""
    canary = plan.canary
    gate = _gate(plan, HookType.CONFIRM_PROMOTION)
    if isinstance(gate, NeedHook):
        return gate
    if gate is not None:
        if canary.status.phase != Phase.WAITING_PROMOTION:
            plan.to(Phase.WAITING_PROMOTION)
            plan.warn(f"Halt {canary.key} advancement waiting for promotion approval {gate.name}")
            if not gate.mute_alert:
                plan.alert(AlertSeverity.WARN, "Canary promotion is waiting for approval.")
        return plan.done()
    for hook in plan.hooks(HookType.CONFIRM_PROMOTION):
        plan.info(f"Confirm-promotion check {hook.name} passed")
    return None


def _copy_to_primary(plan: _Plan) -> Decision:
    canary = plan.canary
    plan.act(_promote_action(plan))
    plan.info(
        f"Copying {canary.target_key} template spec to {canary.primary_name}.{canary.namespace}"
    )
    plan.to(Phase.PROMOTING)
    return plan.done()


def _promote_action(plan: _Plan) -> Promote:
    assert plan.observed.target is not None
    return Promote(plan.observed.target.revision)


# Promotion ------------------------------------------------------------------------------


def _shift_to_primary(plan: _Plan) -> Decision:
    routes = next_promotion_routes(plan.analysis, plan.routes)
    plan.set_routes(routes)
    if plan.analysis.step_weight_promotion is None:
        plan.info("Routing all traffic to primary")
    else:
        plan.info(f"Advance {plan.canary.key} primary weight {routes.primary}")
    if routes.primary == TOTAL_WEIGHT:
        plan.to(Phase.FINALISING)
    return plan.done()


def _finalise(plan: _Plan) -> Decision:
    plan.act(ScaleCanary(up=False))
    plan.to(Phase.SUCCEEDED, iterations=0)
    plan.info(f"Promotion completed! Scaling down {plan.canary.target_key}")
    plan.alert(AlertSeverity.INFO, "Canary analysis completed successfully, promotion finished.")
    _post_rollout(plan, Phase.SUCCEEDED)
    return plan.done()


# Rollback -------------------------------------------------------------------------------


def _rollback_signal(plan: _Plan) -> CanaryWebhook | NeedHook | None:
    """The first rollback webhook that answers yes (2xx), asking for each in turn."""
    for hook in plan.hooks(HookType.ROLLBACK):
        answer = plan.observed.hooks.get(hook.name)
        if answer is None:
            assert plan.canary.status.phase is not None
            return NeedHook(hook, plan.canary.status.phase)
        if answer.ok:
            return hook
    return None


def _rollback_on_threshold(plan: _Plan, check: CheckResult | None) -> Decision:
    failed = plan.status.failed_checks
    plan.warn(f"Rolling back {plan.canary.key} failed checks threshold reached {failed}")
    plan.alert(AlertSeverity.ERROR, f"Failed checks threshold reached {failed}", check)
    return _rollback(plan)


def _rollback_on_deadline(plan: _Plan, message: str) -> Decision:
    plan.warn(f"Rolling back {plan.canary.key} progress deadline exceeded {message}")
    plan.alert(AlertSeverity.ERROR, f"Progress deadline exceeded {message}")
    return _rollback(plan)


def _rollback_on_webhook(plan: _Plan, hook: CanaryWebhook) -> Decision:
    plan.warn(f"Rollback check {hook.name} passed")
    plan.warn(f"Rolling back {plan.canary.key} manual webhook invoked")
    plan.alert(AlertSeverity.WARN, "Rolling back manual webhook invoked")
    return _rollback(plan)


def _rollback(plan: _Plan) -> Decision:
    """All traffic to the primary first, then the canary to zero, then Failed."""
    plan.set_routes(Routes.all_primary())
    plan.act(ScaleCanary(up=False))
    plan.warn(f"Canary failed! Scaling down {plan.canary.key}")
    plan.to(Phase.FAILED, iterations=0)
    _post_rollout(plan, Phase.FAILED)
    return plan.done()


def _post_rollout(plan: _Plan, phase: Phase) -> None:
    hooks = plan.hooks(HookType.POST_ROLLOUT)
    if hooks:
        plan.followups.append(RunHooks(tuple(hooks), phase))


# Gates ----------------------------------------------------------------------------------


def _gate(plan: _Plan, hook_type: HookType) -> CanaryWebhook | NeedHook | None:
    """The first webhook of a type that failed, asking for each in turn; None if all passed."""
    for hook in plan.hooks(hook_type):
        answer: HookResult | None = plan.observed.hooks.get(hook.name)
        if answer is None:
            return NeedHook(hook, Phase.PROGRESSING)
        if not answer.ok:
            return hook
    return None
