"""From (canary, engine alert, now) to the AlertMessage every provider renders.

The facts are what someone woken by an alert asks first: which phase, which check
failed with what value against what range, and how long the analysis ran. Alerts
that start something (initialisation, a new revision) also carry the analysis
settings, as Flagger's do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Alert, CheckResult
from coalmine.notify.base import AlertMessage, Fact

__all__ = ["build_message", "describe_check", "format_duration"]

VERDICTS = (Phase.SUCCEEDED, Phase.FAILED)
STARTS = (Phase.INITIALIZED, Phase.PROGRESSING)


def build_message(canary: Canary, alert: Alert, now: datetime) -> AlertMessage:
    """The message for `alert`, about `canary` as stored after the tick that raised it."""
    phase = canary.status.phase
    duration = analysis_duration(canary, now)
    facts = [Fact("Phase", phase.value if phase else "Unknown")]
    if alert.check is not None:
        facts.append(Fact("Failed check", describe_check(alert.check)))
    if duration is not None:
        facts.append(Fact("Analysis duration", format_duration(duration)))
    facts.append(Fact("Target", _target(canary)))
    if phase in STARTS:
        facts.extend(_settings(canary))
    return AlertMessage(
        canary=canary.name,
        namespace=canary.namespace,
        phase=phase.value if phase else "",
        severity=alert.severity,
        text=alert.message,
        time=now,
        check=alert.check,
        analysis_duration=duration,
        facts=tuple(facts),
    )


def analysis_duration(canary: Canary, now: datetime) -> timedelta | None:
    """For a verdict: from the start of the analysis to now. None otherwise.

    A canary that skipped its analysis has no start of its own (the one in its
    status belongs to an earlier revision), so it has no duration either.
    """
    status = canary.status
    if status.phase not in VERDICTS or status.analysis_start_time is None:
        return None
    if canary.spec.skip_analysis:
        return None
    return max(now - status.analysis_start_time, timedelta(0))


def describe_check(check: CheckResult) -> str:
    """`request-success-rate 80.00, allowed >= 99` or `...: no data (reason), allowed ...`."""
    allowed = f"allowed {check.range.describe()}"
    if check.value is None:
        return f"{check.metric}: no data ({check.reason or 'no value'}), {allowed}"
    return f"{check.metric} {check.value:.2f}, {allowed}"


def format_duration(duration: timedelta) -> str:
    """Go-style, as durations are written in a Canary: `45s`, `3m0s`, `1h2m5s`."""
    seconds = round(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def _target(canary: Canary) -> str:
    kind = canary.spec.target_ref.kind or "Deployment"
    return f"{kind}/{canary.target_key}"


def _settings(canary: Canary) -> list[Fact]:
    analysis = canary.spec.analysis
    facts = [
        Fact("Failed checks threshold", str(analysis.failure_threshold)),
        Fact("Progress deadline", f"{canary.spec.progress_deadline_seconds}s"),
    ]
    if analysis.strategy == "canary":
        steps = (
            f"Weight step: {analysis.step_weight}"
            if analysis.step_weight is not None
            else f"Weight steps: {','.join(map(str, analysis.step_weights or []))}"
        )
        facts.append(Fact("Traffic routing", f"{steps} max: {analysis.effective_max_weight}"))
    else:
        routing = "A/B Testing" if analysis.strategy == "ab" else "Blue/Green"
        facts.append(Fact("Traffic routing", routing))
    return facts
