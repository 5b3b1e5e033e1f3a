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
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from coalmine import __version__
from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Decision

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


class PrometheusRecorder:
    """Records each tick of each canary. Construct once per registry: it registers metrics."""

    def __init__(
        self, registry: CollectorRegistry, *, version: str = __version__, mesh_provider: str = ""
    ) -> None:
        """`mesh_provider` is "istio" for the operator, "envoy" for the local runtime."""
        self._define(registry)
        self.info.labels(version=version, mesh_provider=mesh_provider).set(1)
        self._known: dict[str, set[str]] = defaultdict(set)
        self._phases: dict[str, Phase | None] = {}
        self._metrics: dict[str, set[str]] = defaultdict(set)

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        name, namespace = canary.spec.target_ref.name, canary.namespace
        self._count_known(canary)
        self.duration.labels(name=name, namespace=namespace).observe(seconds)
        self._record_status(canary)
        self._record_weights(canary)
        for check in decision.checks:
            value = check.value if check.value is not None else math.nan
            self.analysis.labels(name=name, namespace=namespace, metric=check.metric).set(value)
            self._metrics[canary.key].add(check.metric)

    def forget(self, canary: Canary) -> None:
        """Drop a deleted canary's series and stop counting it in coalmine_canary_total."""
        name, namespace = canary.spec.target_ref.name, canary.namespace
        known = self._known[namespace]
        known.discard(canary.key)
        self.total.labels(namespace=namespace).set(len(known))
        self._phases.pop(canary.key, None)
        for gauge in (self.status, self.duration, self.failed_checks):
            _remove(gauge, name, namespace)
        for workload in (f"{name}-primary", name):
            _remove(self.weight, workload, namespace)
        for metric in self._metrics.pop(canary.key, set()):
            _remove(self.analysis, name, namespace, metric)

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
        name, namespace = canary.spec.target_ref.name, canary.namespace
        self.status.labels(name=name, namespace=namespace).set(STATUS_VALUES.get(phase, SUCCEEDED))
        if not seen_before or previous == phase or phase not in (Phase.SUCCEEDED, Phase.FAILED):
            return
        counter = self.successes if phase == Phase.SUCCEEDED else self.failures
        counter.labels(
            name=name,
            namespace=namespace,
            deployment_strategy=STRATEGY_LABELS[canary.spec.analysis.strategy],
            analysis_status="skipped" if canary.spec.skip_analysis else "completed",
        ).inc()

    def _record_weights(self, canary: Canary) -> None:
        name, namespace = canary.spec.target_ref.name, canary.namespace
        weight = canary.status.canary_weight
        self.weight.labels(workload=f"{name}-primary", namespace=namespace).set(100 - weight)
        self.weight.labels(workload=name, namespace=namespace).set(weight)
        self.failed_checks.labels(name=name, namespace=namespace).set(canary.status.failed_checks)

    def _define(self, registry: CollectorRegistry) -> None:
        self.info = Gauge(
            "coalmine_info",
            "coalmine version and mesh provider",
            ["version", "mesh_provider"],
            registry=registry,
        )
        self.total = Gauge(
            "coalmine_canary_total", "Canaries known", ["namespace"], registry=registry
        )
        self.status = Gauge(
            "coalmine_canary_status",
            "Last canary analysis result: 0 running, 1 succeeded (or idle), 2 failed",
            ["name", "namespace"],
            registry=registry,
        )
        self.weight = Gauge(
            "coalmine_canary_weight",
            "Traffic weight of the primary and of the canary, in percent",
            ["workload", "namespace"],
            registry=registry,
        )
        self.failed_checks = Gauge(
            "coalmine_canary_failed_checks",
            "Failed checks of the analysis in flight (rolls back at analysis.threshold)",
            ["name", "namespace"],
            registry=registry,
        )
        self.duration = Histogram(
            "coalmine_canary_duration_seconds",
            "Seconds spent in one tick of a canary's analysis",
            ["name", "namespace"],
            registry=registry,
        )
        self.analysis = Gauge(
            "coalmine_canary_metric_analysis",
            "Last value of each analysis metric (NaN when it had no data)",
            ["name", "namespace", "metric"],
            registry=registry,
        )
        verdict_labels = ["name", "namespace", "deployment_strategy", "analysis_status"]
        self.successes = Counter(
            "coalmine_canary_successes",
            "Canaries that entered Succeeded",
            verdict_labels,
            registry=registry,
        )
        self.failures = Counter(
            "coalmine_canary_failures",
            "Canaries that entered Failed",
            verdict_labels,
            registry=registry,
        )


def _remove(metric: Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
