"""PrometheusRecorder: the Recorder port, as Prometheus metrics on a registry you pass in.

The metrics and their labels are Flagger's (pkg/metrics/recorder.go) with the
`coalmine_` prefix, so that dashboards and alert rules written for `flagger_*` work
after renaming. As in Flagger, the `name` label is the target Deployment's name and
the weight's `workload` label is the Deployment that gets the weight
(`<target>-primary` or `<target>`), which keeps several canaries in one namespace apart.

Where coalmine departs from Flagger, on purpose:
- `coalmine_canary_status` is 0 in every phase where the analysis is in flight
  (Progressing, WaitingPromotion, Promoting, Finalising), not only in Progressing:
  in Flagger a canary reads 1 ("succeeded") while it is still being promoted.
- A metric that had no data sets `coalmine_canary_metric_analysis` to NaN rather
  than leaving the last good value standing.

The per-canary families are `GroupedSeries` (`telemetry.grouped_series`): each canary's
lines are rendered once per tick that changed them, not at every scrape, which at
thousands of canaries held the operator's event loop for seconds. Like Go's client, they
have no `_created` series.
"""

from __future__ import annotations

import math
from collections import defaultdict

from prometheus_client import CollectorRegistry, Gauge

from coalmine import __version__
from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Decision
from coalmine.telemetry.grouped_series import Family, GroupedSeries

__all__ = ["STATUS_VALUES", "PrometheusRecorder"]

RUNNING, SUCCEEDED, FAILED = 0, 1, 2
STATUS_VALUES: dict[Phase, int] = {
    Phase.PROGRESSING: RUNNING,
    Phase.WAITING_PROMOTION: RUNNING,
    Phase.PROMOTING: RUNNING,
    Phase.FINALISING: RUNNING,
    Phase.FAILED: FAILED,
}
"""Phases not listed read 1, as in Flagger (Initialized, Waiting, Succeeded, ...)."""

STRATEGY_LABELS = {"canary": "canary", "bluegreen": "blue-green", "ab": "ab-testing"}
"""Flagger's deployment_strategy label values."""

_CANARY = ("name", "namespace")
STATUS = Family(
    "coalmine_canary_status",
    "Last canary analysis result: 0 running, 1 succeeded (or idle), 2 failed",
    "gauge",
    _CANARY,
)
WEIGHT = Family(
    "coalmine_canary_weight",
    "Traffic weight of the primary and of the canary, in percent",
    "gauge",
    ("workload", "namespace"),
)
FAILED_CHECKS = Family(
    "coalmine_canary_failed_checks",
    "Failed checks of the analysis in flight (rolls back at analysis.threshold)",
    "gauge",
    _CANARY,
)
DURATION = Family(
    "coalmine_canary_duration_seconds",
    "Seconds spent in one tick of a canary's analysis",
    "histogram",
    _CANARY,
)
ANALYSIS = Family(
    "coalmine_canary_metric_analysis",
    "Last value of each analysis metric (NaN when it had no data)",
    "gauge",
    (*_CANARY, "metric"),
)
_VERDICT = (*_CANARY, "deployment_strategy", "analysis_status")
SUCCESSES = Family(
    "coalmine_canary_successes", "Canaries that entered Succeeded", "counter", _VERDICT
)
FAILURES = Family("coalmine_canary_failures", "Canaries that entered Failed", "counter", _VERDICT)
_FORGOTTEN = (STATUS, WEIGHT, FAILED_CHECKS, DURATION, ANALYSIS)
"""What a deleted canary's series lose (its verdicts stay counted)."""


class PrometheusRecorder:
    """Records each tick of each canary. Construct once per registry: it registers metrics."""

    def __init__(
        self, registry: CollectorRegistry, *, version: str = __version__, mesh_provider: str = ""
    ) -> None:
        """`mesh_provider` is "istio" for the operator, "envoy" for the local runtime."""
        self.info = Gauge(
            "coalmine_info",
            "coalmine version and mesh provider",
            ["version", "mesh_provider"],
            registry=registry,
        )
        self.total = Gauge(
            "coalmine_canary_total", "Canaries known", ["namespace"], registry=registry
        )
        self.series = GroupedSeries(
            registry, (STATUS, WEIGHT, FAILED_CHECKS, DURATION, ANALYSIS, SUCCESSES, FAILURES)
        )
        self.info.labels(version=version, mesh_provider=mesh_provider).set(1)
        self._known: dict[str, set[str]] = defaultdict(set)
        self._phases: dict[str, Phase | None] = {}

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        owner, labels = _series_of(canary)
        self._count_known(canary)
        self.series.observe(DURATION, owner, labels, seconds)
        self._record_status(canary)
        self._record_weights(canary)
        for check in decision.checks:
            value = check.value if check.value is not None else math.nan
            self.series.set(ANALYSIS, owner, (*labels, check.metric), value)
        self.series.render(owner)

    def forget(self, canary: Canary) -> None:
        """Drop a deleted canary's series and stop counting it in coalmine_canary_total."""
        known = self._known[canary.namespace]
        known.discard(canary.key)
        self.total.labels(namespace=canary.namespace).set(len(known))
        self._phases.pop(canary.key, None)
        self.series.remove(_series_of(canary)[0], _FORGOTTEN)

    def _count_known(self, canary: Canary) -> None:
        known = self._known[canary.namespace]
        known.add(canary.key)
        self.total.labels(namespace=canary.namespace).set(len(known))

    def _record_status(self, canary: Canary) -> None:
        """The status gauge, and the verdict counters when a canary enters a verdict.

        "Enters" needs the phase this recorder saw last: after a restart, a canary's
        first tick counts nothing, so a verdict is never counted twice.
        """
        phase = canary.status.phase
        seen_before = canary.key in self._phases
        previous = self._phases.get(canary.key)
        self._phases[canary.key] = phase
        if phase is None:
            return
        owner, labels = _series_of(canary)
        self.series.set(STATUS, owner, labels, STATUS_VALUES.get(phase, SUCCEEDED))
        if not seen_before or previous == phase or phase not in (Phase.SUCCEEDED, Phase.FAILED):
            return
        family = SUCCESSES if phase == Phase.SUCCEEDED else FAILURES
        strategy = STRATEGY_LABELS[canary.spec.analysis.strategy]
        status = "skipped" if canary.spec.skip_analysis else "completed"
        self.series.inc(family, owner, (*labels, strategy, status))

    def _record_weights(self, canary: Canary) -> None:
        owner, (name, namespace) = _series_of(canary)
        weight = canary.status.canary_weight
        self.series.set(WEIGHT, owner, (f"{name}-primary", namespace), 100 - weight)
        self.series.set(WEIGHT, owner, (name, namespace), weight)
        self.series.set(FAILED_CHECKS, owner, (name, namespace), canary.status.failed_checks)


def _series_of(canary: Canary) -> tuple[str, tuple[str, str]]:
    """The owner of a canary's series, and their (name, namespace) labels. The owner is
    the labels, not the Canary: two Canaries of one target share its series, as they did
    when prometheus-client kept them by label values."""
    name, namespace = canary.spec.target_ref.name, canary.namespace
    return f"{namespace}/{name}", (name, namespace)
