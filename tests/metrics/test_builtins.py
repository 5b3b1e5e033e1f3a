"""The built-in queries, rendered for the workshop's canary, compared as exact strings."""

from __future__ import annotations

import pytest

from coalmine.api import BUILTIN_METRICS, Canary, parse_resource
from coalmine.errors import NotFound
from coalmine.metrics import MESHES, REQUEST_RATE, Role, TemplateContext, builtin_query, render


def canary(service_name: str | None = None) -> Canary:
    service: dict[str, object] = {"port": 80}
    if service_name:
        service["name"] = service_name
    document = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "go-demo-7", "namespace": "go-demo-7"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "go-demo-7"},
            "service": service,
            "analysis": {"stepWeight": 20, "maxWeight": 60},
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def rendered(mesh: str, name: str, role: Role = Role.CANARY, *, of: Canary | None = None) -> str:
    context = TemplateContext.for_interval(of or canary(), "1m")
    return render(builtin_query(mesh, name, role), context)


ISTIO_CANARY = 'reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"'  # noqa: E501
ISTIO_PRIMARY = 'reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7-primary"'  # noqa: E501

EXPECTED_ISTIO = {
    "request-success-rate": 'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7",response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m])) * 100',  # noqa: E501
    "request-duration": 'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m])) by (le))',  # noqa: E501
    "error-rate": '(sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7",response_code=~"5.*"}[1m])) or vector(0)) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m])) * 100',  # noqa: E501
    "request-duration-avg": 'sum(rate(istio_request_duration_milliseconds_sum{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m])) / sum(rate(istio_request_duration_milliseconds_count{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m]))',  # noqa: E501
    "request-duration-max": 'histogram_quantile(1, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m])) by (le))',  # noqa: E501
    "request-rate": 'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="go-demo-7",destination_workload=~"go-demo-7"}[1m]))',  # noqa: E501
}

EXPECTED_ENVOY = {
    "request-success-rate": '(sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="go-demo-7_go-demo-7-canary",envoy_response_code_class!="5"}[1m])) or vector(0)) / sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m])) * 100',  # noqa: E501
    "request-duration": 'histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m])) by (le))',  # noqa: E501
    "error-rate": '(sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="go-demo-7_go-demo-7-canary",envoy_response_code_class="5"}[1m])) or vector(0)) / sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m])) * 100',  # noqa: E501
    "request-duration-avg": 'sum(rate(envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m])) / sum(rate(envoy_cluster_upstream_rq_time_count{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m]))',  # noqa: E501
    "request-duration-max": 'histogram_quantile(1, sum(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m])) by (le))',  # noqa: E501
    "request-rate": 'sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="go-demo-7_go-demo-7-canary"}[1m]))',  # noqa: E501
}

FLAGGER_REQUEST_SUCCESS_RATE = """
	sum(
		rate(
			istio_requests_total{
				reporter="destination",
				destination_workload_namespace="{{ namespace }}",
				destination_workload=~"{{ target }}",
				response_code!~"5.*"
			}[{{ interval }}]
		)
	)
	/
	sum(
		rate(
			istio_requests_total{
				reporter="destination",
				destination_workload_namespace="{{ namespace }}",
				destination_workload=~"{{ target }}"
			}[{{ interval }}]
		)
	)
	* 100"""
"""Verbatim from Flagger's pkg/metrics/observers/istio.go."""

FLAGGER_REQUEST_DURATION = """
	histogram_quantile(
		0.99,
		sum(
			rate(
				istio_request_duration_milliseconds_bucket{
					reporter="destination",
					destination_workload_namespace="{{ namespace }}",
					destination_workload=~"{{ target }}"
				}[{{ interval }}]
			)
		) by (le)
	)"""


@pytest.mark.parametrize("name", sorted(EXPECTED_ISTIO))
def test_istio_canary_queries_are_exact(name: str) -> None:
    assert rendered("istio", name) == EXPECTED_ISTIO[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_ISTIO))
def test_istio_primary_queries_select_the_primary_workload(name: str) -> None:
    expected = EXPECTED_ISTIO[name].replace(ISTIO_CANARY, ISTIO_PRIMARY)
    assert ISTIO_PRIMARY in expected
    assert rendered("istio", name, Role.PRIMARY) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_ENVOY))
def test_envoy_canary_queries_are_exact(name: str) -> None:
    assert rendered("envoy", name) == EXPECTED_ENVOY[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_ENVOY))
def test_envoy_primary_queries_use_the_primary_cluster(name: str) -> None:
    expected = EXPECTED_ENVOY[name].replace(
        "go-demo-7_go-demo-7-canary", "go-demo-7_go-demo-7-primary"
    )
    assert rendered("envoy", name, Role.PRIMARY) == expected


def test_envoy_cluster_is_named_after_the_service_name_when_set() -> None:
    query = rendered("envoy", "error-rate", of=canary(service_name="web"))
    assert 'envoy_cluster_name="go-demo-7_web-canary"' in query


def test_istio_checks_match_flaggers_after_its_whitespace_trimming() -> None:
    """Flagger sends its multi-line queries with every run of whitespace made one space;
    coalmine's are the same PromQL without the spaces after brackets."""
    context = TemplateContext.for_interval(canary(), "1m")
    for name, flagger in [
        ("request-success-rate", FLAGGER_REQUEST_SUCCESS_RATE),
        ("request-duration", FLAGGER_REQUEST_DURATION),
    ]:
        flagger_rendered = render(flagger, context)
        compact = "".join(flagger_rendered.split())
        assert compact == "".join(rendered("istio", name).split())


FLAGGER_HTTP_SUCCESS_RATE = """
	sum(
		rate(
			http_request_duration_seconds_count{
				kubernetes_namespace="{{ namespace }}",
				kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
				status!~"5.*"
			}[{{ interval }}]
		)
	)
	/
	sum(
		rate(
			http_request_duration_seconds_count{
				kubernetes_namespace="{{ namespace }}",
				kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
			}[{{ interval }}]
		)
	)
	* 100"""
"""fluxcd/flagger pkg/metrics/observers/http.go, httpQueries["request-success-rate"]."""

FLAGGER_HTTP_DURATION = """
	histogram_quantile(
		0.99,
		sum(
			rate(
				http_request_duration_seconds_bucket{
					kubernetes_namespace="{{ namespace }}",
					kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
				}[{{ interval }}]
			)
		) by (le)
	)"""
"""The same file's request-duration, in seconds (Flagger multiplies by 1000 in Go)."""


def test_kubernetes_checks_are_flaggers_http_observer_in_milliseconds() -> None:
    context = TemplateContext.for_interval(canary(), "1m")
    for name, flagger in [
        ("request-success-rate", FLAGGER_HTTP_SUCCESS_RATE),
        ("request-duration", FLAGGER_HTTP_DURATION + " * 1000"),
    ]:
        compact = "".join(render(flagger, context).split())
        assert compact == "".join(rendered("kubernetes", name).split()), name


def test_the_kubernetes_canary_pattern_matches_the_canarys_pods_and_not_the_primarys() -> None:
    import re

    def pattern(role: Role) -> re.Pattern[str]:
        query = rendered("kubernetes", "request-rate", role)
        return re.compile(query.split('kubernetes_pod_name=~"')[1].split('"')[0])

    canary_pods, primary_pods = pattern(Role.CANARY), pattern(Role.PRIMARY)
    assert canary_pods.fullmatch("go-demo-7-5d9c8b7f6-x2kqz")
    assert not canary_pods.fullmatch("go-demo-7-primary-5d9c8b7f6-x2kqz")
    assert primary_pods.fullmatch("go-demo-7-primary-5d9c8b7f6-x2kqz")
    assert not primary_pods.fullmatch("go-demo-7-5d9c8b7f6-x2kqz")


def test_every_mesh_has_every_builtin_for_both_workloads() -> None:
    for mesh, roles in MESHES.items():
        for role in Role:
            assert set(roles[role]) == {*BUILTIN_METRICS, REQUEST_RATE}, (mesh, role)


def test_unknown_mesh_lists_the_meshes_with_builtins() -> None:
    with pytest.raises(
        NotFound, match=r"mesh 'linkerd' has no built-in metrics; .*istio, envoy, kubernetes"
    ):
        builtin_query("linkerd", "request-success-rate")


def test_unknown_builtin_lists_the_builtins() -> None:
    with pytest.raises(
        NotFound, match=r"'latency' is not a built-in metric of istio; .*error-rate"
    ):
        builtin_query("istio", "latency")


@pytest.mark.parametrize("provider", ["gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"])
def test_gateway_api_checks_are_istios_as_flaggers_observer_factory_gives(provider: str) -> None:
    """Flagger's observer factory has no Gateway API observer: its default is Istio's."""
    for role in Role:
        for metric in (*BUILTIN_METRICS, REQUEST_RATE):
            assert builtin_query(provider, metric, role) == builtin_query("istio", metric, role)
