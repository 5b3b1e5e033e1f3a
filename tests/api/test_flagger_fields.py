"""Every field of Flagger's Canary CRD is accepted: it acts, or it is refused saying why."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from coalmine.api import Canary
from coalmine.api.loading import parse_resource
from coalmine.errors import ManifestError

BASE: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "15s", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
    },
}


def with_spec(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = doc["spec"]
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return doc


def problems(doc: dict[str, Any]) -> list[str]:
    try:
        parse_resource(doc)
    except ManifestError as error:
        return [str(problem) for problem in error.problems]
    return []


def test_the_fields_coalmine_acts_on_are_accepted() -> None:
    doc = with_spec(
        service__apex={"labels": {"a": "b"}, "annotations": {"c": "d"}},
        service__primary={"labels": {"a": "p"}},
        service__canary={"annotations": {"c": "k"}},
        service__unmanagedMetadata={"labels": ["x"], "annotations": ["y"]},
        service__delegation=True,
        service__headless=True,
        service__trafficDistribution="PreferSameZone",
        service__rewrite={"uri": "/", "type": "ReplacePrefixMatch"},
        autoscalerRef={
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 4},
        },
        analysis__webhooks=[{"name": "w", "url": "https://hook.test/", "disableTLS": True}],
        analysis__sessionAffinity={
            "cookieName": "c",
            "primaryCookieName": "p",
            "maxAge": 0,
            "domain": "example.com",
            "path": "/",
            "sameSite": "Lax",
            "httpOnly": True,
            "partitioned": False,
            "secure": True,
        },
    )
    assert problems(doc) == []
    canary = parse_resource(doc)
    assert isinstance(canary, Canary)
    assert canary.spec.analysis.webhooks[0].disable_tls is True
    assert canary.spec.service.apex is not None and canary.spec.service.apex.labels == {"a": "b"}


def test_a_header_suffix_match_is_accepted() -> None:
    match = [{"headers": {"user-agent": {"suffix": "Android"}}}]
    doc = with_spec(analysis__iterations=5, analysis__match=match)
    del doc["spec"]["analysis"]["stepWeight"]
    assert problems(doc) == []


@pytest.mark.parametrize("provider", ["nginx", "contour", "gloo", "linkerd", "traefik"])
def test_unsupported_providers_get_one_message_listing_the_supported(provider: str) -> None:
    assert problems(with_spec(provider=provider)) == [
        f"canary podinfo: spec.provider: provider {provider!r} is not supported; supported"
        " providers: istio, kubernetes, gatewayapi, gatewayapi:v1, gatewayapi:v1beta1, envoy"
    ]


def test_a_daemonset_target_is_refused() -> None:
    doc = with_spec(targetRef={"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "podinfo"})
    [problem] = problems(doc)
    assert "spec.targetRef: kind 'DaemonSet' is not supported yet" in problem
    assert "DaemonSet and Service targets are not implemented" in problem


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        ("ingressRef", {"kind": "Ingress", "name": "x"}, "Flagger's nginx provider"),
        ("routeRef", {"kind": "ApisixRoute", "name": "x"}, "Flagger's apisix provider"),
        ("upstreamRef", {"kind": "Upstream", "name": "x"}, "Flagger's gloo provider"),
        ("service__meshName", "global", "Flagger's appmesh provider"),
        ("service__backends", ["x"], "Flagger's appmesh provider"),
        (
            "autoscalerRef",
            {"name": "x", "primaryScalerQueries": {"q": "up"}},
            "KEDA ScaledObjects",
        ),
    ],
)
def test_fields_coalmine_cannot_honour_are_refused_with_why(
    path: str, value: Any, why: str
) -> None:
    [problem] = problems(with_spec(**{path: value}))
    field = path.split("__")[-1]
    named = "primaryScalerQueries" if field == "autoscalerRef" else field  # the refused key
    assert f"{named} " in problem and why in problem and "remove it" in problem


def test_a_keda_scaled_object_is_refused() -> None:
    [problem] = problems(with_spec(autoscalerRef={"kind": "ScaledObject", "name": "x"}))
    assert "spec.autoscalerRef.kind: kind 'ScaledObject' is not supported yet" in problem


def test_flaggers_status_fields_are_read() -> None:
    doc = with_spec()
    doc["status"] = {
        "phase": "Succeeded",
        "lastTrackedRevision": "abc",
        "primarySessionAffinityCookie": "p=1",
    }
    canary = parse_resource(doc)
    assert isinstance(canary, Canary)
    assert canary.status.last_tracked_revision == "abc"


def test_a_delegate_cannot_have_hosts_or_gateways() -> None:
    doc = with_spec(service__delegation=True, service__hosts=["app.example.com"])
    [problem] = problems(doc)
    assert "delegation: true) cannot have hosts or gateways" in problem


def test_a_metric_template_takes_flaggers_header_lists_and_region() -> None:
    from coalmine.api import MetricTemplate

    doc = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "t", "namespace": "test"},
        "spec": {
            "provider": {
                "type": "prometheus",
                "address": "http://prometheus:9090",
                "headers": {"X-Scope-OrgID": ["tenant-1"]},
                "region": "eu-west-1",
            },
            "query": "up",
        },
    }
    template = parse_resource(doc)
    assert isinstance(template, MetricTemplate)
    assert template.spec.provider.header_values == {"X-Scope-OrgID": "tenant-1"}


@pytest.mark.parametrize(
    ("field", "value", "needs"),
    [
        ("stepWeight", 10, "splits traffic by weight"),
        ("maxWeight", 50, "splits traffic by weight"),
        ("stepWeights", [10, 50], "splits traffic by weight"),
        ("stepWeightPromotion", 50, "splits traffic by weight"),
        (
            "match",
            [{"headers": {"x-canary": {"exact": "insider"}}}],
            "routes by header or cookie (A/B testing)",
        ),
        ("mirror", True, "copies traffic to the canary"),
        ("sessionAffinity", {"cookieName": "canary"}, "pins users to the canary by cookie"),
    ],
)
def test_the_kubernetes_provider_refuses_each_strategy_it_cannot_run_by_name(
    field: str, value: Any, needs: str
) -> None:
    doc = with_spec(provider="kubernetes", analysis__iterations=5)
    del doc["spec"]["analysis"]["stepWeight"], doc["spec"]["analysis"]["maxWeight"]
    assert problems(doc) == []  # blue/green: iterations only
    doc["spec"]["analysis"][field] = value
    assert problems(doc) == [
        f"canary podinfo: spec: analysis.{field} {needs}, which the kubernetes provider cannot"
        " do (it only switches the apex Service's selector): remove it and use"
        " analysis.iterations (blue/green), or another provider"
    ]


def test_a_weighted_canary_on_the_kubernetes_provider_gets_one_problem_naming_each_field() -> None:
    [problem] = problems(with_spec(provider="kubernetes"))
    assert problem.startswith("canary podinfo: spec: analysis.stepWeight splits traffic by weight")
    assert "; analysis.maxWeight splits traffic by weight" in problem
    assert problem.endswith("use analysis.iterations (blue/green), or another provider")
