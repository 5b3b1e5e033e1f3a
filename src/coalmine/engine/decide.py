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
- A check's window is cut at the start of this revision's analysis (`windows`), and a
  metrics source that is down or too young holds the analysis instead of failing a
  check (`hold`); an outage past the progress deadline rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from coalmine.api.canary import AlertSeverity, Canary, CanaryMetric, CheckStatus, HookType, Phase
from coalmine.api.judge import Verdict
from coalmine.engine.analysis import judge_all, to_check_status
from coalmine.engine.decision import (
    CheckResult,
    CreatePrimary,
    Decision,
    Need,
    NeedCounts,
    NeedHook,
    NeedMeasurements,
    NeedRoutes,
    ReconcileRouting,
    ScaleBaseline,
    ScaleCanary,
)
from coalmine.engine.hold import hold, release_hold
from coalmine.engine.judging import advance_message, judge, rollback_on_judge
from coalmine.engine.judging import hold as judge_hold
from coalmine.engine.observations import Measurement, Observations, Routes, WorkloadState
from coalmine.engine.plan import ANALYSIS_PHASES, Plan, gate
from coalmine.engine.readiness import Readiness, judge_readiness
from coalmine.engine.requests import Request, pending_request
from coalmine.engine.rollback import (
    rollback,
    rollback_interrupted,
    rollback_on_deadline,
    rollback_on_threshold,
    rollback_on_webhook,
    rollback_signal,
)
from coalmine.engine.strategies import copy_to_primary, finalise, shift_to_primary, step
from coalmine.engine.windows import scoped

__all__ = ["decide"]

BUSY_PHASES = (*ANALYSIS_PHASES, Phase.WAITING, Phase.PROMOTING, Phase.FINALISING)
"""Phases in which there is work to do at every tick."""


def decide(canary: Canary, observed: Observations, now: datetime) -> Decision | Need:
    """One tick of the canary's life. Pure: the same inputs always give the same answer."""
    plan = Plan(canary, observed, now)
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
    request = pending_request(canary)
    if request is not None:
        return _on_request(plan, request, observed.target)
    if phase not in BUSY_PHASES and not _is_new_revision(canary, observed.target):
        return plan.done()
    return _advance(plan, observed.target, observed.primary)


# Initialization ----------------------------------------------------------------------


def _create_primary(plan: Plan) -> Decision:
    canary = plan.canary
    plan.act(CreatePrimary())
    plan.info(f"Creating {canary.primary_name}.{canary.namespace} from {canary.target_key}")
    if canary.status.phase is None:
        plan.to(Phase.INITIALIZING)
    return plan.done()


def _initialize(plan: Plan, primary: WorkloadState) -> Decision:
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
        **_applied(plan.observed.target),
        failed_checks=0,
        iterations=0,
    )
    plan.info(f"Initialization done! {canary.key}")
    plan.alert(AlertSeverity.INFO, "New Deployment detected, initialization completed.")
    return plan.done()


# Manual requests ------------------------------------------------------------------------


def _on_request(plan: Plan, request: Request, target: WorkloadState) -> Decision:
    """Promote now or roll back now, where that makes sense; otherwise say why not."""
    canary = plan.canary
    phase = canary.status.phase
    plan.update(handled_request=request.id)
    if request.action == "abort" and phase in (*ANALYSIS_PHASES, Phase.WAITING):
        plan.warn(f"Rolling back {canary.key} aborted by {request.by}")
        plan.alert(AlertSeverity.WARN, f"Rolling back: aborted by {request.by}")
        plan.update(**_applied(target))
        return rollback(plan)
    if request.action == "promote" and phase in ANALYSIS_PHASES:
        readiness = _canary_readiness(plan, target)
        if readiness.ready:
            plan.info(
                f"Promotion requested by {request.by}: skipping the rest of the analysis"
                f" of {canary.key}"
            )
            return copy_to_primary(plan)
        plan.warn(f"Promotion requested by {request.by} refused: {readiness.message}")
        return plan.done()
    what = request.action or "an unknown request"
    plan.warn(f"Request to {what} from {request.by} ignored: {canary.key} is {phase}")
    return plan.done()


def _canary_readiness(plan: Plan, target: WorkloadState) -> Readiness:
    canary = plan.canary
    return judge_readiness(
        canary.target_key,
        target,
        ready_threshold=plan.analysis.canary_ready_threshold,
        deadline=timedelta(seconds=canary.spec.progress_deadline_seconds),
        now=plan.now,
    )


# A new revision -----------------------------------------------------------------------


def _applied(target: WorkloadState) -> dict[str, Any]:
    """The status fields that name the revision now applied: `lastAppliedSpec`, and
    `trackedConfigs` with it, as Flagger's SyncStatus writes both (at initialization, when
    an analysis starts, and when one is given up): the configs' checksums whose content
    the revision covers (`{}` when the target reads none, as Flagger writes it)."""
    return {"last_applied_spec": target.revision, "tracked_configs": dict(target.configs)}


def _is_new_revision(canary: Canary, target: WorkloadState) -> bool:
    """A revision neither analysed last nor promoted.

    Reverting the target to the promoted revision starts nothing (a manual rollback).
    """
    status = canary.status
    return target.revision not in (status.last_promoted_spec, status.last_applied_spec)


def _advance(plan: Plan, target: WorkloadState, primary: WorkloadState) -> Decision | Need:
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
    if phase in ANALYSIS_PHASES and _traffic_taken_away(plan):
        return rollback_interrupted(plan)
    if phase in ANALYSIS_PHASES and plan.routes.canary != canary.status.canary_weight:
        # a step whose status write was lost: the router is the truth about the weight,
        # so that a rollback interrupted later is still recognised as one
        plan.update(canary_weight=plan.routes.canary)
    readiness = _canary_readiness(plan, target)
    waits = phase in ANALYSIS_PHASES or canary.spec.skip_analysis
    if waits and not readiness.ready and not readiness.deadline_exceeded:
        # Promoting and Finalising move traffic to the primary and scale the canary away:
        # they need no ready canary (a Finalising whose status write was lost after the
        # canary went to zero would otherwise wait forever).
        plan.warn(f"canary deployment {canary.target_key} not ready: {readiness.message}")
        return plan.done()
    if canary.spec.skip_analysis:
        return _skip_analysis(plan, readiness)
    if plan.has_baseline and phase in ANALYSIS_PHASES:
        waiting = _baseline_not_ready(plan)
        if waiting is not None:
            return waiting
    return _continue(plan, readiness)


def _traffic_taken_away(plan: Plan) -> bool:
    """The status gives the canary traffic, the router gives it none."""
    routes = plan.routes
    return plan.canary.status.canary_weight > 0 and routes.canary == 0 and not routes.mirrored


def _baseline_not_ready(plan: Plan) -> Decision | None:
    """judge.baseline: the baseline must serve before it gets traffic, or its missing
    answers would make the canary look better than it is. Made again if it was removed."""
    canary = plan.canary
    name = f"{canary.baseline_name}.{canary.namespace}"
    baseline = plan.observed.baseline
    if baseline is None:
        plan.act(ScaleBaseline(up=True))
        plan.warn(f"{name} not found: creating it from {canary.primary_name}")
        return plan.done()
    readiness = judge_readiness(
        name,
        baseline,
        ready_threshold=plan.analysis.canary_ready_threshold,
        deadline=timedelta(seconds=canary.spec.progress_deadline_seconds),
        now=plan.now,
    )
    if readiness.deadline_exceeded:
        return rollback_on_deadline(plan, readiness.message)
    if not readiness.ready:
        plan.warn(f"baseline deployment {name} not ready: {readiness.message}")
        return plan.done()
    return None


def _primary_readiness(plan: Plan, primary: WorkloadState) -> Readiness:
    canary = plan.canary
    return judge_readiness(
        f"{canary.primary_name}.{canary.namespace}",
        primary,
        ready_threshold=plan.analysis.primary_ready_threshold,
        deadline=timedelta(seconds=canary.spec.progress_deadline_seconds),
        now=plan.now,
    )


def _primary_not_ready(plan: Plan, readiness: Readiness) -> Decision:
    canary = plan.canary
    in_flight = canary.status.phase in (*ANALYSIS_PHASES, Phase.PROMOTING)
    if readiness.deadline_exceeded and in_flight:
        return rollback_on_deadline(
            plan, f"{canary.primary_name}.{canary.namespace}: {readiness.message}"
        )
    plan.warn(f"{canary.primary_name}.{canary.namespace} not ready: {readiness.message}")
    return plan.done()


def _start_revision(plan: Plan, target: WorkloadState) -> Decision | Need:
    """Initialized, Succeeded, Failed or Waiting, and the target has a revision to analyse."""
    canary = plan.canary
    waiting = canary.status.phase == Phase.WAITING
    if not _is_new_revision(canary, target):
        return _withdrawn(plan, target)
    closed = gate(plan, HookType.CONFIRM_ROLLOUT)
    if isinstance(closed, NeedHook):
        return closed
    if closed is not None:
        if not waiting:
            plan.to(Phase.WAITING)
            plan.warn(f"Halt {canary.key} advancement waiting for approval {closed.name}")
            if not closed.mute_alert:
                plan.alert(AlertSeverity.WARN, "Canary is waiting for approval.")
        return plan.done()
    if waiting:
        for hook in plan.hooks(HookType.CONFIRM_ROLLOUT):
            plan.info(f"Confirm-rollout check {hook.name} passed")
    plan.act(ScaleCanary(up=True))
    if plan.has_baseline and not canary.spec.skip_analysis:
        plan.act(ScaleBaseline(up=True))
        plan.info(
            f"Creating {canary.baseline_name}.{canary.namespace} from "
            f"{canary.primary_name}.{canary.namespace} for the judge's comparison"
        )
    _begin_analysis(plan, target)
    plan.info(f"New revision detected! Scaling up {canary.target_key}")
    plan.alert(AlertSeverity.INFO, "New revision detected, progressing canary analysis.")
    return plan.done()


def _withdrawn(plan: Plan, target: WorkloadState) -> Decision:
    """Waiting for approval, and the target went back to a revision already judged."""
    status = plan.canary.status
    if target.revision == status.last_promoted_spec:
        plan.to(Phase.INITIALIZED, **_applied(target))
    else:
        plan.to(Phase.FAILED)
    plan.info(
        f"Revision of {plan.canary.target_key} went back to one already judged; nothing to analyse"
    )
    return plan.done()


def _restart(plan: Plan, target: WorkloadState) -> Decision:
    plan.set_routes(Routes.all_primary())
    _begin_analysis(plan, target)
    plan.info(f"New revision detected! Restarting analysis for {plan.canary.target_key}")
    return plan.done()


def _begin_analysis(plan: Plan, target: WorkloadState) -> None:
    plan.to(
        Phase.PROGRESSING,
        **_applied(target),
        canary_weight=0,
        failed_checks=0,
        iterations=0,
        analysis_start_time=plan.now,
        checks=[],
        judge=None,
        metrics_hold=None,
    )


def _skip_analysis(plan: Plan, readiness: Readiness) -> Decision:
    canary = plan.canary
    if readiness.deadline_exceeded:
        return rollback_on_deadline(plan, readiness.message)
    plan.set_routes(Routes.all_primary())
    plan.act(plan.promote_action(), ScaleCanary(up=False))
    if plan.has_baseline:
        plan.act(ScaleBaseline(up=False))
    plan.to(Phase.SUCCEEDED, iterations=0)
    plan.info(
        f"Copying {canary.target_key} template spec to {canary.primary_name}.{canary.namespace}"
    )
    plan.info(f"Promotion completed! Canary analysis was skipped for {canary.target_key}")
    plan.alert(AlertSeverity.INFO, "Canary analysis was skipped, promotion finished.")
    return plan.done()


# The analysis ---------------------------------------------------------------------------


def _continue(plan: Plan, canary_readiness: Readiness) -> Decision | Need:
    """In analysis or promotion, with a canary that is ready or out of time."""
    status = plan.canary.status
    if status.phase in ANALYSIS_PHASES:
        signal = rollback_signal(plan)
        if isinstance(signal, NeedHook):
            return signal
        if signal is not None:
            return rollback_on_webhook(plan, signal)
    if status.phase == Phase.PROMOTING:
        return shift_to_primary(plan)
    if status.phase == Phase.FINALISING:
        return finalise(plan)
    if canary_readiness.deadline_exceeded:
        return rollback_on_deadline(plan, canary_readiness.message)
    if status.failed_checks >= plan.analysis.failure_threshold:
        return rollback_on_threshold(plan, None)
    return _run_checks(plan)


def _run_checks(plan: Plan) -> Decision | Need:
    canary = plan.canary
    routes = plan.routes
    starting = (
        routes.canary == 0
        and canary.status.iterations == 0
        and not (plan.analysis.mirror and routes.mirrored)
    )
    if starting:
        failed = gate(plan, HookType.PRE_ROLLOUT)
        if isinstance(failed, NeedHook):
            return failed
        plan.start_analysis()
        if failed is not None:
            message = plan.observed.hooks[failed.name].message
            plan.warn(
                f"Halt {canary.key} advancement pre-rollout check {failed.name} failed {message}"
            )
            return _count_failure(plan, None)
        for hook in plan.hooks(HookType.PRE_ROLLOUT):
            plan.info(f"Pre-rollout check {hook.name} passed")
        return step(plan)
    failed = gate(plan, HookType.ROLLOUT)
    if isinstance(failed, NeedHook):
        return failed
    if failed is not None:
        message = plan.observed.hooks[failed.name].message
        plan.warn(f"Halt {canary.key} advancement external check {failed.name} failed {message}")
        return _count_failure(plan, None)
    return _judge_metrics(plan)


def _judge_metrics(plan: Plan) -> Decision | Need:
    """Measure every metric over its window scoped to this revision, then judge.

    Measurements that are evidence (a value, or no data from a working source) are
    judged; one that fails counts as usual. Otherwise a source that is down or too young
    holds the analysis (see `hold`), and only when every metric passed does it step.
    """
    metrics = tuple(plan.analysis.metrics)
    start = plan.canary.status.analysis_start_time
    every = timedelta(seconds=plan.analysis.interval_seconds)
    windows = {metric.name: scoped(metric, start, plan.now, every) for metric in metrics}
    to_measure = tuple(w for w in windows.values() if isinstance(w, CanaryMetric))
    measurements = plan.observed.measurements
    if to_measure and measurements is None:
        return NeedMeasurements(to_measure)
    verdict = judge(plan)
    if isinstance(verdict, NeedCounts):
        return verdict
    found = {
        name: window if isinstance(window, Measurement) else _measured(measurements, name)
        for name, window in windows.items()
    }
    judged = [metric for metric in metrics if found[metric.name].judged]
    held = [
        (metric.name, found[metric.name]) for metric in metrics if not found[metric.name].judged
    ]
    checks = judge_all(judged, found)
    plan.checks = checks
    plan.update(checks=_check_statuses(plan, checks))
    failing = [check for check in checks if not check.passed]
    for check in failing:
        query = f" (query: {check.query})" if check.query else ""
        plan.warn(f"Halt advancement {plan.canary.key} {check.describe()}{query}")
    if verdict is not None and verdict.verdict == Verdict.ROLLBACK:
        return rollback_on_judge(plan, verdict)
    if failing:
        return _count_failure(plan, failing[0])
    if held:
        return hold(plan, held)
    release_hold(plan)
    if verdict is not None and verdict.verdict == Verdict.HOLD:
        return judge_hold(plan, verdict)
    if verdict is not None:
        plan.info(advance_message(verdict))
    return step(plan)


def _measured(measurements: Mapping[str, Measurement] | None, name: str) -> Measurement:
    missing = Measurement.no_data("the metric was not measured")
    return (measurements or {}).get(name, missing)


def _check_statuses(plan: Plan, checks: tuple[CheckResult, ...]) -> list[CheckStatus]:
    """The new checks; a metric held this tick keeps its last status."""
    judged = {check.metric for check in checks}
    kept = [c for c in plan.canary.status.checks if c.name not in judged]
    names = [metric.name for metric in plan.analysis.metrics]
    statuses = [to_check_status(check, plan.now) for check in checks]
    statuses += [c for c in kept if c.name in names]
    return sorted(statuses, key=lambda c: names.index(c.name))


def _count_failure(plan: Plan, check: CheckResult | None) -> Decision:
    failed = plan.canary.status.failed_checks + 1
    plan.update(failed_checks=failed)
    if failed >= plan.analysis.failure_threshold:
        return rollback_on_threshold(plan, check)
    return plan.done()
