"""One tick of the judge: every check updated with the tick's counts, then one verdict.

Rollback as soon as one check says rollback; advance only when every check says
advance; otherwise hold, until the maximum analysis time, after which the verdict is
a rollback that says what evidence was missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coalmine.api.judge import JudgeCheckStatus, JudgeSpec, JudgeStatus, Verdict
from coalmine.judge.errors import judge_errors
from coalmine.judge.latency import judge_latency
from coalmine.judge.observations import TickObservation

__all__ = ["JudgeOutcome", "judge_tick"]


@dataclass(frozen=True)
class JudgeOutcome:
    verdict: Verdict
    status: JudgeStatus
    reason: str
    """One line: the checks that decided, or why there is no verdict."""
    timed_out: bool = False


def judge_tick(
    spec: JudgeSpec,
    status: JudgeStatus | None,
    observed: TickObservation,
    *,
    elapsed_seconds: float,
    now: datetime,
) -> JudgeOutcome:
    """Pure: the judge's state after this tick and what it says."""
    status = status or JudgeStatus()
    reference = observed.reference
    reference_name = "baseline" if observed.baseline is not None else "primary"
    checks: list[JudgeCheckStatus] = []
    # A rollback needs one check to say "worse": each may err, so together at most alpha
    # (Bonferroni). An advance needs every check to say "not worse": a release worse on
    # one check advances only if that check errs, so each at alpha is enough (an
    # intersection-union test, Berger 1982).
    alpha = spec.alpha / spec.check_count
    errors, latency = status.errors, status.latency
    if spec.errors is not None:
        judged = judge_errors(
            spec.errors,
            errors,
            observed.canary,
            reference,
            alpha=alpha,
            advance_alpha=spec.alpha,
            reference_name=reference_name,
            now=now,
        )
        errors = judged.evidence
        checks.append(judged.check)
    if spec.latency is not None:
        judged = judge_latency(
            spec.latency,
            latency,
            observed.canary.latency,
            reference.latency,
            alpha=alpha,
            advance_alpha=spec.alpha,
            reference_name=reference_name,
            now=now,
        )
        latency = judged.evidence
        checks.append(judged.check)
    new_status = JudgeStatus(errors=errors, latency=latency, checks=checks)
    return _conclude(spec, new_status, checks, elapsed_seconds)


def _conclude(
    spec: JudgeSpec, status: JudgeStatus, checks: list[JudgeCheckStatus], elapsed: float
) -> JudgeOutcome:
    rollback = [check for check in checks if check.verdict == Verdict.ROLLBACK]
    if rollback:
        return JudgeOutcome(Verdict.ROLLBACK, status, "; ".join(c.message for c in rollback))
    if all(check.verdict == Verdict.ADVANCE for check in checks):
        return JudgeOutcome(Verdict.ADVANCE, status, "; ".join(c.message for c in checks))
    holding = [check for check in checks if check.verdict == Verdict.HOLD]
    reason = "; ".join(c.message for c in holding)
    if elapsed >= spec.max_analysis_seconds:
        return JudgeOutcome(
            Verdict.ROLLBACK,
            status,
            f"no verdict after maxAnalysisTime {spec.max_analysis_time}: not enough evidence "
            f"to rule out a regression beyond the margin ({reason})",
            timed_out=True,
        )
    return JudgeOutcome(Verdict.HOLD, status, reason)
