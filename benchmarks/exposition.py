"""A scrape of the operator's /metrics, with the per-canary series kept as text or not.

Run: .venv/bin/python -m benchmarks.exposition [--canaries 1000 5000]

The scrape runs on the operator's event loop: every tick in flight waits for it. For each
count of canaries, each having ticked once with two analysis metrics (24 samples a
canary, as at 5,000 canaries in benchmarks/operator_scale.py), this prints:

- a scrape when prometheus-client renders every series (the recorder before
  `telemetry.grouped_series`: a Gauge or Histogram per family, a child per canary);
- a scrape with the per-canary series kept as text (`PrometheusRecorder` now), every
  canary changed since the last scrape (each tick rendered its own lines);
- one tick's recording, both ways (what each tick pays instead).

Best of three rounds, in both formats (Prometheus asks for OpenMetrics).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, Histogram
from tests.fixtures.notify import make_canary

from coalmine.api.canary import CanaryStatus, Phase, ThresholdRange
from coalmine.engine.decision import CheckResult, Decision
from coalmine.telemetry import PrometheusRecorder
from coalmine.telemetry.server import exposition

FORMATS = {"text": "text/plain", "openmetrics": "application/openmetrics-text"}
CHECKS = ("request-success-rate", "request-duration")


class EveryScrapeRenders:
    """The recorder's families as prometheus-client metrics, as before the change."""

    def __init__(self, registry: CollectorRegistry) -> None:
        canary = ["name", "namespace"]
        self.status = Gauge("coalmine_canary_status", "s", canary, registry=registry)
        self.weight = Gauge(
            "coalmine_canary_weight", "w", ["workload", "namespace"], registry=registry
        )
        self.failed = Gauge("coalmine_canary_failed_checks", "f", canary, registry=registry)
        self.duration = Histogram(
            "coalmine_canary_duration_seconds", "d", canary, registry=registry
        )
        self.analysis = Gauge(
            "coalmine_canary_metric_analysis", "a", [*canary, "metric"], registry=registry
        )

    def record(self, name: str, namespace: str, seconds: float) -> None:
        self.duration.labels(name, namespace).observe(seconds)
        self.status.labels(name, namespace).set(0)
        self.weight.labels(f"{name}-primary", namespace).set(90)
        self.weight.labels(name, namespace).set(10)
        self.failed.labels(name, namespace).set(0)
        for metric in CHECKS:
            self.analysis.labels(name, namespace, metric).set(99.5)


def best(work: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(count: int) -> None:
    status = CanaryStatus(phase=Phase.PROGRESSING, canary_weight=10)
    canaries = [
        make_canary(name=f"app-{n}", namespace="bench").with_status(status) for n in range(count)
    ]
    decision = Decision(
        status, checks=tuple(CheckResult(m, 99.5, ThresholdRange(min=99), True) for m in CHECKS)
    )

    before = CollectorRegistry()
    old = EveryScrapeRenders(before)
    old_tick = best(lambda: [old.record(c.name, c.namespace, 0.02) for c in canaries]) / count

    after = CollectorRegistry()
    recorder = PrometheusRecorder(after)
    new_tick = best(lambda: [recorder.record_tick(c, decision, 0.02) for c in canaries]) / count

    print(f"{count} canaries")
    for label, accept in FORMATS.items():
        slow = best(lambda accept=accept: exposition(before, accept))
        size = len(exposition(after, accept)[0])
        fast = best(lambda accept=accept: exposition(after, accept))
        print(
            f"  scrape ({label}, {size / 1e6:.1f} MB): every series rendered {slow * 1e3:8.1f} ms,"
            f" kept as text {fast * 1e3:6.1f} ms, ratio {slow / fast:5.1f}"
        )
    print(
        f"  one tick's recording: prometheus-client {old_tick * 1e6:6.1f} µs,"
        f" kept as text {new_tick * 1e6:6.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, nargs="+", default=[1000, 5000])
    for count in parser.parse_args().canaries:
        measure(count)


if __name__ == "__main__":
    main()
