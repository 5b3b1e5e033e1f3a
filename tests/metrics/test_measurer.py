"""The Measurer: which query, which server, and how a failure reaches the canary's status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coalmine.api import Canary, CanaryMetric, MetricTemplate, Phase, parse_resource
from coalmine.engine import MeasurementKind
from coalmine.engine.decision import EventType
from coalmine.metrics import (
    Credentials,
    InMemoryTemplates,
    MeasurerSettings,
    MetricMeasurer,
    ProviderSettings,
    Role,
    StaticCredentialSource,
)
from coalmine.testing import Simulation
from tests.fixtures.prometheus import FakePrometheus, error_body, matrix_body, vector_body

ISTIO_SUCCESS_RATE = (
    'sum(rate(istio_requests_total{reporter="destination",'
    'destination_workload_namespace="shop",destination_workload=~"cart",'
    'response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{reporter="destination",'
    'destination_workload_namespace="shop",destination_workload=~"cart"}[1m])) * 100'
)


def canary(*metrics: dict[str, Any], threshold: int = 2, **spec: Any) -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"},
            "service": {"port": 80},
            "analysis": {
                "interval": "1m",
                "threshold": threshold,
                "stepWeight": 20,
                "maxWeight": 40,
                "metrics": list(metrics)
                or [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
            },
            **spec,
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def template(name: str, query: str, **provider: Any) -> MetricTemplate:
    document = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"provider": {"type": "prometheus", **provider}, "query": query},
    }
    resource = parse_resource(document)
    assert isinstance(resource, MetricTemplate)
    return resource


def measurer(url: str, **settings: Any) -> MetricMeasurer:
    templates = settings.pop("templates", None)
    credentials = settings.pop("credentials", None)
    server = ProviderSettings(url, timeout=settings.pop("timeout", 5.0))
    return MetricMeasurer(
        MeasurerSettings(server, **settings), templates=templates, credentials=credentials
    )


def metric_of(resource: Canary, index: int = 0) -> CanaryMetric:
    return resource.spec.analysis.metrics[index]


# Which query -------------------------------------------------------------------------


async def test_builtin_uses_the_default_mesh_and_reports_the_rendered_query(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.reply(vector_body(({}, "99.5")))
    subject = canary()
    measurement = await measurer(fake_prometheus.url).measure(subject, metric_of(subject))
    assert measurement.value == 99.5
    assert measurement.query == ISTIO_SUCCESS_RATE
    assert fake_prometheus.requests[-1].params["query"] == ISTIO_SUCCESS_RATE


async def test_spec_provider_picks_the_mesh_unless_the_runtime_forces_one(
    fake_prometheus: FakePrometheus,
) -> None:
    envoy_canary = canary(provider="envoy")
    measurement = await measurer(fake_prometheus.url).measure(envoy_canary, metric_of(envoy_canary))
    assert 'envoy_cluster_name="shop_cart-canary"' in measurement.query
    istio_canary = canary(provider="istio")
    forced = measurer(fake_prometheus.url, mesh="envoy")
    measurement = await forced.measure(istio_canary, metric_of(istio_canary))
    assert 'envoy_cluster_name="shop_cart-canary"' in measurement.query


async def test_a_mesh_without_builtins_is_no_data_naming_the_meshes(
    fake_prometheus: FakePrometheus,
) -> None:
    subject = canary()
    forced = measurer(fake_prometheus.url, mesh="linkerd")
    measurement = await forced.measure(subject, metric_of(subject))
    assert measurement.value is None
    assert "mesh 'linkerd' has no built-in metrics" in measurement.reason
    assert "istio, envoy" in measurement.reason
    assert fake_prometheus.requests == []


async def test_inline_query_is_templated_with_the_metric_interval(
    fake_prometheus: FakePrometheus,
) -> None:
    subject = canary(
        {
            "name": "latency",
            "interval": "30s",
            "query": 'avg(rate(x{ns="{{ namespace }}", d=~"{{ variables.dc }}"}[{{ interval }}]))',
            "templateVariables": {"dc": "eu-.*"},
            "thresholdRange": {"max": 5},
        }
    )
    measurement = await measurer(fake_prometheus.url).measure(subject, metric_of(subject))
    assert measurement.query == 'avg(rate(x{ns="shop", d=~"eu-.*"}[30s]))'
    assert measurement.value == 1


async def test_measure_builtin_queries_the_primary_too(fake_prometheus: FakePrometheus) -> None:
    subject = canary()
    measurement = await measurer(fake_prometheus.url).measure_builtin(
        subject, "request-rate", role=Role.PRIMARY, interval="5m"
    )
    assert measurement.query == (
        'sum(rate(istio_requests_total{reporter="destination",'
        'destination_workload_namespace="shop",destination_workload=~"cart-primary"}[5m]))'
    )


# Templates and their servers ---------------------------------------------------------


async def test_template_runs_on_its_own_server_with_its_secret(
    fake_prometheus: FakePrometheus, other_prometheus: FakePrometheus
) -> None:
    other_prometheus.reply(vector_body(({}, "0.5")))
    templates = InMemoryTemplates(
        [
            template(
                "error-rate",
                'sum(rate(errors{ns="{{ namespace }}",route="{{ variables.route }}"}[1m]))',
                address=other_prometheus.url,
                secretRef={"name": "prom-auth"},
                headers={"X-Scope-OrgID": ["shop"], "X-Tenant": ["a", "b"]},
            )
        ]
    )
    credentials = StaticCredentialSource({"prom-auth": Credentials(token="t0k3n")})
    subject = canary(
        {
            "name": "errors",
            "templateRef": {"name": "error-rate"},
            "templateVariables": {"route": "/cart"},
            "thresholdRange": {"max": 1},
        }
    )
    subject_measurer = measurer(fake_prometheus.url, templates=templates, credentials=credentials)
    measurement = await subject_measurer.measure(subject, metric_of(subject))
    assert measurement.value == 0.5
    assert measurement.query == 'sum(rate(errors{ns="shop",route="/cart"}[1m]))'
    assert fake_prometheus.requests == []
    headers = other_prometheus.requests[-1].headers
    assert headers["Authorization"] == "Bearer t0k3n"
    assert headers["X-Scope-OrgID"] == "shop"
    assert headers["X-Tenant"] == "a, b"


async def test_default_credentials_never_go_to_another_server(
    fake_prometheus: FakePrometheus, other_prometheus: FakePrometheus
) -> None:
    templates = InMemoryTemplates([template("t", "vector(1)", address=other_prometheus.url)])
    settings = MeasurerSettings(
        ProviderSettings(fake_prometheus.url, credentials=Credentials(token="default-token"))
    )
    subject = canary({"name": "t", "templateRef": {"name": "t"}, "thresholdRange": {"min": 1}})
    await MetricMeasurer(settings, templates=templates).measure(subject, metric_of(subject))
    assert "Authorization" not in other_prometheus.requests[-1].headers
    builtin = canary()
    await MetricMeasurer(settings).measure(builtin, metric_of(builtin))
    assert fake_prometheus.requests[-1].headers["Authorization"] == "Bearer default-token"


async def test_metrics_server_of_the_canary_replaces_the_default(
    fake_prometheus: FakePrometheus, other_prometheus: FakePrometheus
) -> None:
    subject = canary(metricsServer=other_prometheus.url)
    await measurer(fake_prometheus.url).measure(subject, metric_of(subject))
    assert fake_prometheus.requests == []
    assert len(other_prometheus.requests) == 1


@pytest.mark.parametrize(
    ("metric", "templates", "reason"),
    [
        pytest.param(
            {"name": "x", "templateRef": {"name": "missing"}},
            [],
            "metric template missing not found in namespace shop",
            id="missing-template",
        ),
        pytest.param(
            {"name": "x", "templateRef": {"name": "t", "namespace": "other"}},
            [template("t", "vector(1)")],
            "metric template t not found in namespace other (known: shop/t)",
            id="template-in-another-namespace",
        ),
        pytest.param(
            {"name": "x", "templateRef": {"name": "t"}},
            [template("t", 'x{r="{{ variables.route }}"}')],
            "template t uses variables.route, which is not set",
            id="unset-variable",
        ),
        pytest.param(
            {"name": "x", "templateRef": {"name": "t"}},
            [template("t", "vector(1)", secretRef={"name": "prom-auth"})],
            "template t needs secret prom-auth: no credential source configured",
            id="no-credential-source",
        ),
    ],
)
async def test_what_cannot_be_asked_is_no_data_with_the_reason(
    fake_prometheus: FakePrometheus,
    metric: dict[str, Any],
    templates: list[MetricTemplate],
    reason: str,
) -> None:
    subject = canary({**metric, "thresholdRange": {"min": 1}})
    measure = measurer(fake_prometheus.url, templates=InMemoryTemplates(templates))
    measurement = await measure.measure(subject, metric_of(subject))
    assert measurement.value is None
    assert reason in measurement.reason
    assert fake_prometheus.requests == []


# Through the engine -------------------------------------------------------------------

ANSWERS = [
    pytest.param(vector_body(), 200, 0, "no data (empty result", id="empty"),
    pytest.param(vector_body(({}, "NaN")), 200, 0, "returned NaN", id="nan"),
    pytest.param(vector_body(({}, "+Inf")), 200, 0, "returned +Inf", id="inf"),
    pytest.param(matrix_body(({}, [(1.0, "100")])), 200, 0, "range vector (matrix)", id="matrix"),
    pytest.param(
        vector_body(({"pod": "a"}, "100"), ({"pod": "b"}, "100")), 200, 0, "2 series", id="two"
    ),
    pytest.param(
        error_body("bad_data", "parse error"), 400, 0, "PromQL error (bad_data)", id="promql"
    ),
]
OUTAGES = [
    pytest.param("oops", 500, 0, "answered HTTP 500: oops", id="http-500"),
    pytest.param(
        error_body("timeout", "query timed out"), 503, 0, "answered HTTP 503", id="http-503"
    ),
    pytest.param("slow down", 429, 0, "answered HTTP 429", id="http-429"),
    pytest.param("<html>proxy</html>", 200, 0, "other than its API's JSON", id="not-json"),
    pytest.param('{"status": "success", "data": {}}', 200, 0, "cannot read", id="invalid"),
    pytest.param(vector_body(({}, "100")), 200, 2, "did not answer within 1s", id="timeout"),
]
QUERY_TIMEOUT = 1.0
"""The measurer's timeout in these tests: short enough for the `timeout` case to be
quick, long enough that a prompt answer is never late on a busy machine (0.2 s was:
a recovery tick's answer came late under the suite's load and was taken for the outage
still going on)."""


async def start_analysis(sim: Simulation) -> None:
    await sim.run_until_phase(Phase.INITIALIZED)
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 20)


@pytest.mark.parametrize(("body", "status", "delay", "reason"), ANSWERS)
async def test_no_data_fails_the_check_with_the_reason_and_never_passes(
    fake_prometheus: FakePrometheus, body: str, status: int, delay: float, reason: str
) -> None:
    fake_prometheus.reply(body, status=status, delay=delay)
    sim = Simulation(canary(threshold=2))
    sim.ports = replace(sim.ports, measurer=measurer(fake_prometheus.url, timeout=QUERY_TIMEOUT))
    await start_analysis(sim)

    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert sim.routes is not None
    assert sim.routes.canary == 20, "no data must not advance"
    [check] = sim.canary.status.checks
    assert (check.passed, check.value) == (False, None)
    assert reason in check.reason
    warning = sim.notifier.events[-1]
    assert warning.type == EventType.WARNING
    assert warning.message.startswith("Halt advancement cart.shop request-success-rate: no data (")
    assert reason in warning.message
    assert warning.message.endswith(f"(query: {ISTIO_SUCCESS_RATE})")

    await sim.tick()
    assert sim.phase == Phase.FAILED
    assert sim.routes is not None
    assert sim.routes.canary == 0


async def test_a_value_out_of_range_names_value_range_and_query(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.reply(vector_body(({}, "80")))
    sim = Simulation(canary(threshold=2))
    sim.ports = replace(sim.ports, measurer=measurer(fake_prometheus.url))
    await start_analysis(sim)
    await sim.tick()
    assert sim.notifier.events[-1].message == (
        f"Halt advancement cart.shop request-success-rate 80.00 < 99 (query: {ISTIO_SUCCESS_RATE})"
    )


@pytest.mark.parametrize(("body", "status", "delay", "reason"), OUTAGES)
async def test_prometheus_down_holds_the_analysis_without_a_failed_check(
    fake_prometheus: FakePrometheus, body: str, status: int, delay: float, reason: str
) -> None:
    fake_prometheus.reply(body, status=status, delay=delay)
    sim = Simulation(canary(threshold=1))
    sim.ports = replace(sim.ports, measurer=measurer(fake_prometheus.url, timeout=QUERY_TIMEOUT))
    await start_analysis(sim)
    before = len(sim.notifier.events)

    for _ in range(3):
        await sim.tick()
        assert sim.phase == Phase.PROGRESSING
        assert sim.routes is not None
        assert sim.routes.canary == 20, "an outage must not advance"
        assert sim.canary.status.failed_checks == 0
        hold = sim.canary.status.metrics_hold
        assert hold is not None
        assert (hold.kind, hold.source) == ("outage", f"Prometheus at {fake_prometheus.url}")
        assert reason in hold.reason
    warnings = [e for e in sim.notifier.events[before:] if e.type == EventType.WARNING]
    assert len(warnings) == 1, "one Warning for the outage, not one per tick"
    assert f"metrics source outage: Prometheus at {fake_prometheus.url}" in warnings[0].message
    assert len([a for a in sim.notifier.alerts if "outage" in a.message]) == 1

    fake_prometheus.reply(vector_body(({}, "100")))
    await sim.tick()
    assert sim.canary.status.metrics_hold is None
    assert sim.routes is not None
    assert sim.routes.canary == 40


async def test_a_young_prometheus_makes_the_check_wait(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.reply(vector_body(({}, "100")))
    started = datetime.now(UTC) - timedelta(seconds=20)
    fake_prometheus.started = started.isoformat()
    subject = canary()
    measurement = await measurer(fake_prometheus.url).measure(subject, metric_of(subject))
    assert measurement.kind == MeasurementKind.WAITING
    assert measurement.since == started
    assert measurement.reason.startswith("waiting for 70s of data since ")
    assert f"Prometheus at {fake_prometheus.url} started then" in measurement.reason

    fake_prometheus.started = (started - timedelta(minutes=2)).isoformat()
    measurement = await measurer(fake_prometheus.url).measure(subject, metric_of(subject))
    assert measurement.value == 100
