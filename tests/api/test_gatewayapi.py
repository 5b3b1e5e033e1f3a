"""The Gateway API models: the specification's defaults and limits, and what coalmine refuses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from coalmine.api.gatewayapi import Gateway, HTTPRoute, HTTPRouteFilter, HTTPRouteRule


def route(spec: dict[str, Any]) -> HTTPRoute:
    return HTTPRoute.model_validate(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": spec,
        }
    )


def test_a_rule_matches_every_path_by_default_and_a_backend_weighs_one() -> None:
    loaded = route({"rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}]})
    [rule] = loaded.spec.rules
    assert rule.to_manifest()["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule.backend_refs is not None and rule.backend_refs[0].weight == 1


def test_a_route_without_rules_gets_the_default_rule() -> None:
    assert route({}).spec.rules == [HTTPRouteRule()]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"hostnames": ["*"]}, "hostnames.0"),
        ({"hostnames": ["App.example.com"]}, "hostnames.0"),
        ({"rules": [{"backendRefs": [{"name": "podinfo"}]}]}, "needs a port"),
        ({"rules": [{"backendRefs": [{"name": "p", "port": 1, "weight": 1_000_001}]}]}, "weight"),
        ({"rules": [{"timeouts": {"request": "1.5s"}}]}, "timeouts.request"),
        ({"rules": [{}] * 17}, "rules"),
        ({"parentRefs": [{"name": "gw"}] * 33}, "parentRefs"),
        ({"rules": [{"matches": [{"path": {"type": "Exact", "value": "api"}}]}]}, "start with '/'"),
        ({"rules": [{"matches": [{"headers": [{"name": "bad header", "value": "x"}]}]}]}, "name"),
        ({"rules": [{"matches": [{"method": "FETCH"}]}]}, "method"),
    ],
)
def test_the_specifications_limits_are_enforced(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        route(spec)


def test_a_filter_carries_the_field_its_type_names_and_no_other() -> None:
    modifier = {"add": [{"name": "x", "value": "1"}]}
    with pytest.raises(ValidationError, match="sets requestHeaderModifier and no other"):
        HTTPRouteFilter.model_validate(
            {"type": "RequestHeaderModifier", "responseHeaderModifier": modifier}
        )
    with pytest.raises(ValidationError, match="RequestRedirect is not supported by coalmine"):
        HTTPRouteFilter.model_validate({"type": "RequestRedirect"})
    loaded = HTTPRouteFilter.model_validate(
        {"type": "URLRewrite", "urlRewrite": {"hostname": "a.b"}}
    )
    assert loaded.to_manifest() == {"type": "URLRewrite", "urlRewrite": {"hostname": "a.b"}}


def test_a_mirror_takes_percent_or_fraction_not_both() -> None:
    backend = {"name": "shadow", "port": 80}
    with pytest.raises(ValidationError, match="percent or fraction"):
        HTTPRouteFilter.model_validate(
            {
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": backend,
                    "percent": 5,
                    "fraction": {"numerator": 1},
                },
            }
        )


def test_a_gateway_needs_a_class_and_uniquely_named_listeners() -> None:
    listener = {"name": "http", "port": 80, "protocol": "HTTP"}
    document = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "gateways"},
        "spec": {"gatewayClassName": "envoy", "listeners": [listener]},
    }
    gateway = Gateway.model_validate(document)
    assert gateway.spec.listeners[0].port == 80
    document["spec"]["listeners"] = [listener, listener]
    with pytest.raises(ValidationError, match="listener names must be unique, repeated: http"):
        Gateway.model_validate(document)
    document["spec"]["listeners"] = []
    with pytest.raises(ValidationError, match="listeners"):
        Gateway.model_validate(document)
