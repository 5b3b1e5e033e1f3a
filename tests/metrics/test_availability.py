"""Flagger's check at initialization (checkMetricProviderAvailability): is the server of
each metric online? A real Prometheus answers; a closed port and a server that answers
something else than `vector(1)` = 1 do not; a missing template is named."""

from __future__ import annotations

import socket
from typing import Any

from coalmine.metrics import (
    Credentials,
    InMemoryTemplates,
    PrometheusServer,
    StaticCredentialSource,
)
from coalmine.metrics.providers.prometheus import ONLINE_QUERY
from tests.fixtures.prometheus import FakePrometheus, error_body
from tests.metrics.test_measurer import canary, measurer, template

SUCCESS_RATE = {"name": "request-success-rate", "thresholdRange": {"min": 99}}


def closed_port_url() -> str:
    """An address nothing listens on: a port bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def templated(name: str, **provider: Any) -> InMemoryTemplates:
    return InMemoryTemplates([template(name, "sum(up)", **provider)])


async def test_a_real_prometheus_is_available(prometheus: PrometheusServer) -> None:
    subject = canary(SUCCESS_RATE, {"name": "q", "query": "sum(up)", "thresholdRange": {"max": 1}})
    assert await measurer(prometheus.url).unavailable(subject) is None


async def test_an_unreachable_metrics_server_is_named_with_its_metric_and_where_it_is_set(
    prometheus: PrometheusServer,
) -> None:
    dead = closed_port_url()
    subject = canary(SUCCESS_RATE, metricsServer=dead)
    problem = await measurer(prometheus.url, timeout=2.0).unavailable(subject)
    assert problem is not None
    assert f"prometheus at {dead}" in problem
    assert "request-success-rate" in problem and "spec.metricsServer" in problem


async def test_a_templates_own_server_is_asked_with_its_credentials(
    prometheus: PrometheusServer, fake_prometheus: FakePrometheus
) -> None:
    templates = templated("errors", address=fake_prometheus.url, secretRef={"name": "auth"})
    credentials = StaticCredentialSource({"auth": Credentials(token="t0k3n")})
    subject = canary(
        {"name": "errors", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}}
    )
    subject_measurer = measurer(prometheus.url, templates=templates, credentials=credentials)
    assert await subject_measurer.unavailable(subject) is None
    [asked] = fake_prometheus.requests
    assert asked.params["query"] == ONLINE_QUERY
    assert asked.headers["Authorization"] == "Bearer t0k3n"

    fake_prometheus.reply(error_body("bad_data", "no such tenant"), status=400)
    problem = await subject_measurer.unavailable(subject)
    assert problem is not None
    assert f"prometheus at {fake_prometheus.url} (template errors of metric errors)" in problem
    assert "provider.address" in problem


async def test_a_missing_template_is_named(prometheus: PrometheusServer) -> None:
    subject = canary(
        {"name": "errors", "templateRef": {"name": "nope"}, "thresholdRange": {"max": 1}}
    )
    problem = await measurer(prometheus.url, templates=InMemoryTemplates([])).unavailable(subject)
    assert problem is not None and problem.startswith("metric errors: ") and "nope" in problem


async def test_each_server_is_asked_once(fake_prometheus: FakePrometheus) -> None:
    subject = canary(
        SUCCESS_RATE,
        {"name": "request-duration", "thresholdRange": {"max": 500}},
        {"name": "q", "query": "sum(up)", "thresholdRange": {"max": 1}},
    )
    assert await measurer(fake_prometheus.url).unavailable(subject) is None
    assert len(fake_prometheus.requests) == 1
