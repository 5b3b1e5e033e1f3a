"""The judge inside a tick: ask for the per-side counts, update the evidence, and say
what it means for the weight (rollback now, advance, or hold without a failed check)."""

from __future__ import annotations

from coalmine.api.canary import AlertSeverity
from coalmine.api.judge import Verdict
from coalmine.engine.decision import Decision, NeedCounts
from coalmine.engine.plan import Plan
from coalmine.engine.rollback import rollback
from coalmine.judge import JudgeOutcome, judge_tick
from coalmine.judge.observations import Side, TickObservation

__all__ = ["advance_message", "hold", "judge", "judge_line", "rollback_on_judge"]

_NOTHING = TickObservation(Side(0, 0), Side(0, 0))


def judge(plan: Plan) -> JudgeOutcome | NeedCounts | None:
    """None when the canary has no judge; the status carries the new evidence."""
    spec = plan.analysis.judge
    if spec is None:
        return None
    counts = plan.observed.counts
    if counts is None:
        return NeedCounts()
    if spec.baseline and isinstance(counts, TickObservation) and counts.baseline is None:
        counts = "no counts for the baseline (judge.baseline): not comparing with the primary"
    start = plan.canary.status.analysis_start_time or plan.now
    outcome = judge_tick(
        spec,
        plan.status.judge,
        counts if isinstance(counts, TickObservation) else _NOTHING,
        elapsed_seconds=(plan.now - start).total_seconds(),
        now=plan.now,
    )
    if isinstance(counts, str):
        outcome = JudgeOutcome(outcome.verdict, outcome.status, f"{counts}; {outcome.reason}")
    plan.update(judge=outcome.status)
    return outcome


def advance_message(outcome: JudgeOutcome) -> str:
    return f"Judge: {outcome.reason}"


def judge_line(message: str, key: str) -> tuple[Verdict, str] | None:
    """The judge's verdict and line in one of the events above, for the views that show
    each tick's decision (report, dashboard); None for every other event."""
    if message.startswith("Judge: "):
        return Verdict.ADVANCE, message.removeprefix("Judge: ")
    if message.startswith(f"Rolling back {key}: "):
        return Verdict.ROLLBACK, message.removeprefix(f"Rolling back {key}: ")
    holding = f"Holding {key} at canary weight "
    if message.startswith(holding) and ": " in message:
        return Verdict.HOLD, message.split(": ", 1)[1]
    return None


def rollback_on_judge(plan: Plan, outcome: JudgeOutcome) -> Decision:
    key = plan.canary.key
    plan.warn(f"Rolling back {key}: {outcome.reason}")
    plan.alert(AlertSeverity.ERROR, f"Rolling back: {outcome.reason}")
    return rollback(plan)


def hold(plan: Plan, outcome: JudgeOutcome) -> Decision:
    """Not enough evidence yet: keep the weight; this is not a failed check."""
    assert outcome.verdict == Verdict.HOLD
    weight = plan.canary.status.canary_weight
    plan.info(f"Holding {plan.canary.key} at canary weight {weight}: {outcome.reason}")
    return plan.done()
