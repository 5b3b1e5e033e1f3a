"""The canary's HTTPRoute: weights in, weights out, Flagger's shape (pkg/router/gateway_api.go).

Every spec written here is also loaded through `api.gatewayapi.HTTPRoute`, the
specification's limits, so a shape the Gateway API would refuse fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from coalmine.api.gatewayapi import HTTPRoute
from coalmine.engine import Routes
from coalmine.errors import ManifestError
from coalmine.routing.http_route import http_route_spec, routes_of, unready_parents
from coalmine.routing.session_affinity import canary_cookie, primary_cookie
from tests.engine.builders import canary

GATEWAY = {"name": "public", "namespace": "gateways"}


def gateway_canary(analysis: dict[str, Any] | None = None, **service: Any) -> Any:
    return canary(
        analysis,
        provider="gatewayapi",
        service={"port": 9898, "gatewayRefs": [GATEWAY], **service},
    )


def rendered(c: Any, routes: Routes) -> dict[str, Any]:
    """The spec, checked to load as an HTTPRoute and to read back as `routes`."""
    spec = http_route_spec(c, routes)
    document = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "go-demo-7", "namespace": "test"},
        "spec": spec,
    }
    HTTPRoute.model_validate(document)
    assert routes_of(c, spec) == routes
    return spec


def backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight}


def test_one_weighted_rule_on_the_gateway_refs_with_the_hosts() -> None:
    c = gateway_canary(hosts=["app.example.com"], timeout="5s", backendTimeout="2s")
    assert rendered(c, Routes(80, 20)) == {
        "parentRefs": [GATEWAY],
        "hostnames": ["app.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [backend("go-demo-7-primary", 80), backend("go-demo-7-canary", 20)],
                "timeouts": {"request": "5s", "backendRequest": "2s"},
            }
        ],
    }


def test_no_hosts_means_no_hostnames() -> None:
    spec = rendered(gateway_canary(), Routes(100, 0))
    assert "hostnames" not in spec
    assert "timeouts" not in spec["rules"][0]


def test_the_service_matches_headers_rewrite_and_mirrors_become_filters() -> None:
    c = gateway_canary(
        match=[{"uri": {"prefix": "/api"}, "method": {"exact": "GET"}}],
        headers={
            "request": {"set": {"x-b": "2", "x-a": "1"}, "remove": ["x-debug"]},
            "response": {"add": {"x-served-by": "canary"}},
        },
        rewrite={"uri": "/v2", "authority": "backend.example.com"},
        mirror=[{"backendRef": {"name": "shadow", "port": 80}}],
    )
    rule = rendered(c, Routes(50, 50))["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET"}]
    assert rule["filters"] == [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {
                "set": [{"name": "x-a", "value": "1"}, {"name": "x-b", "value": "2"}],
                "remove": ["x-debug"],
            },
        },
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"add": [{"name": "x-served-by", "value": "canary"}]},
        },
        {
            "type": "URLRewrite",
            "urlRewrite": {
                "hostname": "backend.example.com",
                "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"},
            },
        },
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow", "port": 80}}},
    ]


def test_a_full_path_rewrite_keeps_its_type() -> None:
    c = gateway_canary(rewrite={"uri": "/", "type": "ReplaceFullPath"})
    rule = rendered(c, Routes(100, 0))["rules"][0]
    path = {"type": "ReplaceFullPath", "replaceFullPath": "/"}
    assert rule["filters"] == [{"type": "URLRewrite", "urlRewrite": {"path": path}}]


def test_ab_testing_matches_the_analysis_and_sends_everyone_else_to_the_primary() -> None:
    c = gateway_canary(
        {
            "stepWeight": None,
            "maxWeight": None,
            "iterations": 5,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
            ],
        },
        match=[{"uri": {"prefix": "/api"}}],
    )
    spec = rendered(c, Routes(0, 100))
    ab, everyone = spec["rules"]
    api = {"type": "PathPrefix", "value": "/api"}
    assert ab["matches"] == [
        {"path": api, "headers": [{"name": "x-canary", "type": "Exact", "value": "insider"}]},
        {
            "path": api,
            "headers": [
                {
                    "name": "cookie",
                    "type": "RegularExpression",
                    "value": "^(.*?;)?(canary=always)(;.*)?$",
                }
            ],
        },
    ]
    assert ab["backendRefs"] == [backend("go-demo-7-primary", 0), backend("go-demo-7-canary", 100)]
    assert everyone == {
        "matches": [{"path": api}],
        "backendRefs": [backend("go-demo-7-primary", 100)],
    }


def test_mirroring_adds_a_request_mirror_to_the_canary_with_its_percent() -> None:
    c = gateway_canary(
        {"stepWeight": None, "maxWeight": None, "iterations": 3, "mirror": True, "mirrorWeight": 25}
    )
    spec = rendered(c, Routes(100, 0, mirrored=True))
    mirror = {
        "backendRef": {"group": "", "kind": "Service", "name": "go-demo-7-canary", "port": 9898}
    }
    assert spec["rules"][0]["filters"] == [
        {"type": "RequestMirror", "requestMirror": {**mirror, "percent": 25}}
    ]
    assert routes_of(c, rendered(c, Routes(100, 0))) == Routes(100, 0)


def test_the_baseline_gets_its_backend_with_the_judges_baseline() -> None:
    c = gateway_canary({"judge": {"errors": {"maxIncrease": 1}, "baseline": True}})
    spec = rendered(c, Routes(60, 20, baseline=20))
    names = [(ref["name"], ref["weight"]) for ref in spec["rules"][0]["backendRefs"]]
    assert names == [
        ("go-demo-7-primary", 60),
        ("go-demo-7-canary", 20),
        ("go-demo-7-baseline", 20),
    ]


def test_without_the_judges_baseline_its_share_goes_back_to_the_primary() -> None:
    spec = http_route_spec(gateway_canary(), Routes(60, 20, baseline=20))
    assert [ref["weight"] for ref in spec["rules"][0]["backendRefs"]] == [80, 20]


def test_session_affinity_sends_cookie_holders_to_the_canary_and_sets_the_cookie() -> None:
    c = gateway_canary({"sessionAffinity": {"cookieName": "flagger-cookie", "maxAge": 60}})
    spec = rendered(c, Routes(80, 20))
    sticky, weighted = spec["rules"]
    cookie = canary_cookie(c, c.spec.analysis.session_affinity)
    name, _, value = cookie.partition("=")
    assert sticky["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [
                {
                    "name": "Cookie",
                    "type": "RegularExpression",
                    "value": f".*flagger\\-cookie.*{value}.*",
                }
            ],
        }
    ]
    assert name == "flagger-cookie"
    assert sticky["backendRefs"] == [backend("go-demo-7-canary", 100)]
    primary, canary_ref = weighted["backendRefs"]
    assert "filters" not in primary
    assert canary_ref["filters"] == [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {
                "add": [{"name": "Set-Cookie", "value": f"{cookie}; Max-Age=60"}]
            },
        }
    ]


def test_the_primary_cookie_keeps_its_holders_on_the_primary_for_one_interval() -> None:
    affinity = {"cookieName": "canary", "primaryCookieName": "primary"}
    c = gateway_canary({"sessionAffinity": affinity, "interval": "30s"})
    spec = rendered(c, Routes(80, 20))
    to_canary, to_primary, weighted = spec["rules"]
    assert to_canary["backendRefs"] == [backend("go-demo-7-canary", 100)]
    assert to_primary["backendRefs"] == [backend("go-demo-7-primary", 100)]
    cookie = primary_cookie(c, c.spec.analysis.session_affinity)
    assert cookie is not None
    set_cookie = weighted["backendRefs"][0]["filters"][0]["responseHeaderModifier"]["add"]
    assert set_cookie == [{"name": "Set-Cookie", "value": f"{cookie}; Max-Age=30"}]


def test_the_cookie_of_the_run_just_ended_is_expired() -> None:
    c = gateway_canary({"sessionAffinity": {"cookieName": "flagger-cookie"}})
    ended = c.with_status(
        c.status.model_copy(update={"session_affinity_cookie": "flagger-cookie=abc"})
    )
    spec = rendered(ended, Routes(100, 0))
    expire, weighted = spec["rules"]
    assert expire["backendRefs"] == [backend("go-demo-7-primary", 100)]
    assert expire["filters"] == [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {
                "add": [{"name": "Set-Cookie", "value": "flagger-cookie=abc; Max-Age=-1"}]
            },
        }
    ]
    assert "filters" not in weighted["backendRefs"][1]


def test_before_any_analysis_there_is_no_sticky_rule() -> None:
    c = gateway_canary({"sessionAffinity": {"cookieName": "flagger-cookie"}})
    assert len(rendered(c, Routes(100, 0))["rules"]) == 1


def test_routes_of_an_empty_route_is_all_to_the_primary() -> None:
    assert routes_of(gateway_canary(), {"rules": []}) == Routes.all_primary()


@pytest.mark.parametrize(
    ("service", "analysis", "problem"),
    [
        ({"gatewayRefs": None}, {}, "service.gatewayRefs is required with provider gatewayapi"),
        ({"hosts": ["*"]}, {}, "service.hosts '*' is not a Gateway API hostname"),
        ({"timeout": "1m30s500ms"}, {}, None),
        ({"backendTimeout": "1.5s"}, {}, "service.backendTimeout '1.5s' is not a Gateway API"),
        ({"match": [{"uri": {"suffix": ".png"}}]}, {}, "service.match[0].uri: use exact, prefix"),
        ({"match": [{"port": 80}]}, {}, "service.match[0].port cannot be expressed in an"),
        (
            {},
            {"iterations": 2, "stepWeight": None, "maxWeight": None,
             "match": [{"headers": {"x": {"prefix": "a"}}}]},
            "analysis.match[0].headers.x: use exact or regex",
        ),
    ],
)  # fmt: skip
def test_what_an_http_route_cannot_carry_is_refused_naming_the_field(
    service: dict[str, Any], analysis: dict[str, Any], problem: str | None
) -> None:
    fields = {"port": 9898, "gatewayRefs": [GATEWAY], **service}
    fields = {k: v for k, v in fields.items() if v is not None}
    if problem is None:
        canary(analysis, provider="gatewayapi", service=fields)
        return
    with pytest.raises(ManifestError, match=re.escape(problem)):
        canary(analysis, provider="gatewayapi", service=fields)


def test_a_parent_is_ready_once_it_accepted_the_current_generation() -> None:
    spec = {"parentRefs": [{"name": "public", "namespace": "gateways"}, {"name": "internal"}]}

    def route(*parents: tuple[str, str, str, int]) -> dict[str, Any]:
        status = [
            {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                           "name": name, "namespace": namespace},
             "conditions": [{"type": "Accepted", "status": accepted, "observedGeneration": seen}]}
            for name, namespace, accepted, seen in parents
        ]  # fmt: skip
        metadata = {"name": "go-demo-7", "namespace": "test", "generation": 3}
        return {"metadata": metadata, "spec": spec, "status": {"parents": status}}

    assert unready_parents(route()) == []  # no controller has seen it yet
    assert unready_parents(route(("public", "gateways", "True", 3))) == []
    assert unready_parents(route(("internal", "test", "False", 3))) == [
        "parent test/internal has Accepted=False for generation 3 of 3"
    ]  # the spec's parentRef has no namespace: the route's
    assert unready_parents(route(("public", "gateways", "True", 2))) == [
        "parent gateways/public has Accepted=True for generation 2 of 3"
    ]
    assert unready_parents(route(("other", "gateways", "False", 3))) == []  # not a parent
