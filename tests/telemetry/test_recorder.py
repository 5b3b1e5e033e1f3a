import math

import pytest
from prometheus_client import CollectorRegistry

from coalmine import __version__
from coalmine.api.canary import CanaryStatus, Phase, ThresholdRange
from coalmine.engine.decision import CheckResult, Decision
from coalmine.telemetry import PrometheusRecorder
from tests.fixtures.notify import make_canary

VERDICT_LABELS = {
    "name": "podinfo",
    "namespace": "test",
    "deployment_strategy": "canary",
    "analysis_status": "completed",
}


def value(registry: CollectorRegistry, sample: str, **labels: str) -> float | None:
    return registry.get_sample_value(sample, labels)


def tick(recorder: PrometheusRecorder, phase: Phase, weight: int = 0, **kw: object) -> None:
    status = CanaryStatus(phase=phase, canary_weight=weight)
    canary = make_canary(**kw).with_status(status)  # type: ignore[arg-type]
    recorder.record_tick(canary, Decision(status), 0.01)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_info_names_the_version_and_mesh(registry: CollectorRegistry) -> None:
    PrometheusRecorder(registry, mesh_provider="envoy")
    assert value(registry, "coalmine_info", version=__version__, mesh_provider="envoy") == 1


@pytest.mark.parametrize(
    ("phase", "status"),
    [
        (Phase.INITIALIZED, 1),
        (Phase.WAITING, 1),
        (Phase.PROGRESSING, 0),
        (Phase.WAITING_PROMOTION, 0),
        (Phase.PROMOTING, 0),
        (Phase.FINALISING, 0),
        (Phase.SUCCEEDED, 1),
        (Phase.FAILED, 2),
    ],
)
def test_status_is_0_while_the_analysis_runs_1_when_done_2_when_failed(
    registry: CollectorRegistry, phase: Phase, status: int
) -> None:
    recorder = PrometheusRecorder(registry)
    tick(recorder, phase)
    assert value(registry, "coalmine_canary_status", name="podinfo", namespace="test") == status


def test_weights_are_per_workload_as_flagger_labels_them(registry: CollectorRegistry) -> None:
    recorder = PrometheusRecorder(registry)
    tick(recorder, Phase.PROGRESSING, weight=40)
    weight = "coalmine_canary_weight"
    assert value(registry, weight, workload="podinfo-primary", namespace="test") == 60
    assert value(registry, weight, workload="podinfo", namespace="test") == 40


def test_a_verdict_is_counted_once_when_entered(registry: CollectorRegistry) -> None:
    recorder = PrometheusRecorder(registry)
    for phase in (Phase.FINALISING, Phase.SUCCEEDED, Phase.SUCCEEDED, Phase.SUCCEEDED):
        tick(recorder, phase)
    for phase in (Phase.PROGRESSING, Phase.FAILED, Phase.FAILED):
        tick(recorder, phase)

    assert value(registry, "coalmine_canary_successes_total", **VERDICT_LABELS) == 1
    assert value(registry, "coalmine_canary_failures_total", **VERDICT_LABELS) == 1


def test_a_restarted_recorder_does_not_count_a_verdict_it_did_not_see_happen(
    registry: CollectorRegistry,
) -> None:
    recorder = PrometheusRecorder(registry)
    tick(recorder, Phase.SUCCEEDED)
    assert value(registry, "coalmine_canary_successes_total", **VERDICT_LABELS) is None


def test_metric_values_are_kept_and_no_data_is_nan(registry: CollectorRegistry) -> None:
    recorder = PrometheusRecorder(registry)
    canary = make_canary().with_status(CanaryStatus(phase=Phase.PROGRESSING))
    checks = (
        CheckResult("request-success-rate", 99.5, ThresholdRange(min=99), True),
        CheckResult("request-duration", None, ThresholdRange(max=500), False, "no data"),
    )
    recorder.record_tick(canary, Decision(canary.status, checks=checks), 0.01)

    metric = "coalmine_canary_metric_analysis"
    rate = value(registry, metric, name="podinfo", namespace="test", metric="request-success-rate")
    duration = value(registry, metric, name="podinfo", namespace="test", metric="request-duration")
    assert rate == 99.5
    assert duration is not None
    assert math.isnan(duration)


def test_canaries_are_counted_by_namespace_and_forgotten(registry: CollectorRegistry) -> None:
    recorder = PrometheusRecorder(registry)
    tick(recorder, Phase.PROGRESSING, name="a")
    tick(recorder, Phase.PROGRESSING, name="b")
    tick(recorder, Phase.PROGRESSING, name="b")
    tick(recorder, Phase.PROGRESSING, name="c", namespace="other")
    assert value(registry, "coalmine_canary_total", namespace="test") == 2
    assert value(registry, "coalmine_canary_total", namespace="other") == 1

    recorder.forget(make_canary(name="a"))

    assert value(registry, "coalmine_canary_total", namespace="test") == 1
    assert value(registry, "coalmine_canary_status", name="a", namespace="test") is None
    assert value(registry, "coalmine_canary_weight", workload="a", namespace="test") is None
    assert value(registry, "coalmine_canary_status", name="b", namespace="test") == 0


def test_two_recorders_on_two_registries_do_not_collide() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    tick(PrometheusRecorder(first), Phase.FAILED)
    PrometheusRecorder(second)
    assert value(first, "coalmine_canary_status", name="podinfo", namespace="test") == 2
    assert value(second, "coalmine_canary_status", name="podinfo", namespace="test") is None
