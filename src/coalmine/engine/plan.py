"""The decision being built: actions in order, the next status, events, alerts, checks.

Every part of the decision (`decide`, `strategies`, `rollback`) writes into one Plan;
`Plan.done()` freezes it into a Decision. A Plan is local to one call of `decide`, so
the deciding stays pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coalmine.api.canary import (
    AlertSeverity,
    Canary,
    CanaryAnalysis,
    CanaryWebhook,
    HookType,
    Phase,
)
from coalmine.engine.decision import (
    Action,
    Alert,
    CheckResult,
    Decision,
    Event,
    EventType,
    NeedHook,
    Promote,
    RunHooks,
    SetRoutes,
)
from coalmine.engine.observations import HookResult, Observations, Routes
from coalmine.engine.session_affinity import record_cookies
from coalmine.engine.status import to_phase

__all__ = ["ANALYSIS_PHASES", "Plan", "gate"]

ANALYSIS_PHASES = (Phase.PROGRESSING, Phase.WAITING_PROMOTION)
"""Phases in which checks run and a rollback can happen."""


class Plan:
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
        self._starting: int | None = None
        """Where in `events` the analysis start was told, until a step joins it."""

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

    def start_analysis(self) -> None:
        """Tell that the analysis starts; the first step, taken in the same tick, joins
        this Event instead of writing its own (see `advance`)."""
        self._starting = len(self.events)
        self.info(f"Starting canary analysis for {self.canary.target_key}")

    def advance(self, step: str) -> None:
        """Tell a step of the analysis: `Advance <canary> <step>` (Flagger's words).

        In the tick the analysis starts, the step joins the start's Event instead:
        `Starting canary analysis for <target>, <step>`. Flagger writes the two as two
        Events in the same tick; one Event is one API write fewer in every analysis
        (at a thousand canaries the writes per progressing tick, BENCHMARKS.md), and it
        says the same (docs/flagger-compat.md)."""
        if self._starting is None:
            self.info(f"Advance {self.canary.key} {step}")
            return
        start = self.events[self._starting]
        self.events[self._starting] = Event(f"{start.message}, {step}", start.type, start.reason)
        self._starting = None

    def alert(
        self, severity: AlertSeverity, message: str, check: CheckResult | None = None
    ) -> None:
        self.alerts.append(Alert(severity, message, check))

    def to(self, phase: Phase, **fields: Any) -> None:
        """Move to `phase`; a hold for the metrics source ends with the analysis."""
        kind = self.canary.spec.target_ref.kind or "Deployment"
        if phase not in ANALYSIS_PHASES:
            fields.setdefault("metrics_hold", None)
        self.status = to_phase(self.status, phase, self.now, kind=kind, **fields)

    def update(self, **fields: Any) -> None:
        self.status = self.status.model_copy(update=fields)

    @property
    def has_baseline(self) -> bool:
        """judge.baseline: a `<target>-baseline` shares the canary's weight in the analysis."""
        judge = self.analysis.judge
        return judge is not None and judge.baseline

    def set_routes(self, routes: Routes) -> None:
        """Set the weights; the status records them, and the session affinity cookies the
        routers write with them (see engine.session_affinity)."""
        self.act(SetRoutes(routes))
        self.update(canary_weight=routes.canary)
        self.status = record_cookies(self.canary, self.status, routes.canary)

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

    def promote_action(self) -> Promote:
        assert self.observed.target is not None
        return Promote(self.observed.target.revision)

    def post_rollout(self, phase: Phase) -> None:
        """post-rollout webhooks, called once the status is written."""
        hooks = self.hooks(HookType.POST_ROLLOUT)
        if hooks:
            self.followups.append(RunHooks(tuple(hooks), phase))


def gate(plan: Plan, hook_type: HookType) -> CanaryWebhook | NeedHook | None:
    """The first webhook of a type that failed, asking for each in turn; None if all passed."""
    for hook in plan.hooks(hook_type):
        answer: HookResult | None = plan.observed.hooks.get(hook.name)
        if answer is None:
            return NeedHook(hook, Phase.PROGRESSING)
        if not answer.ok:
            return hook
    return None
