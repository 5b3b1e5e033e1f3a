"""The rendered HTTPRoutes against the Gateway API's own validators.

tests/upstream/gatewayapi runs @kubernetes-models/gateway-api (npm; installed by
scripts/setup-tools, pinned by its package-lock.json), whose validators are generated
from the Gateway API's Go types, the source of the upstream CRDs' schemas. Every shape
the router writes (weights, A/B, mirroring, session affinity, the service's filters and
timeouts, a baseline) is checked in one `node` run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.gatewayapi import Gateway
from coalmine.engine import Routes
from coalmine.routing.http_route import http_route_spec
from tests.engine.builders import canary

UPSTREAM = Path(__file__).parents[1] / "upstream" / "gatewayapi"
GATEWAY = {"name": "public", "namespace": "gateways", "sectionName": "http", "port": 80}
BLUE_GREEN = {"stepWeight": None, "maxWeight": None, "iterations": 3}


def upstream_problems(documents: list[dict[str, Any]]) -> list[list[str]]:
    """Per document, what the upstream validators say is wrong ([] when valid)."""
    node = shutil.which("node")
    if node is None or not (UPSTREAM / "node_modules").is_dir():
        pytest.fail("node or the Gateway API validators are missing: run scripts/setup-tools")
    done = subprocess.run(
        [node, str(UPSTREAM / "validate.mjs")],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    problems: list[list[str]] = json.loads(done.stdout)
    return problems


def route(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "go-demo-7", "namespace": "test"},
        "spec": spec,
    }


def gateway_canary(analysis: dict[str, Any] | None = None, **service: Any) -> Any:
    fields = {"port": 9898, "gatewayRefs": [GATEWAY], **service}
    return canary(analysis, provider="gatewayapi", service=fields)


SHAPES: list[tuple[str, Any, Routes]] = [
    ("weighted", gateway_canary(hosts=["app.example.com", "*.example.org"]), Routes(80, 20)),
    (
        "service settings",
        gateway_canary(
            match=[{"uri": {"regex": "/api/.*"}, "method": {"exact": "POST"},
                    "queryParams": {"debug": {"exact": "1"}}}],
            headers={"request": {"set": {"x-a": "1"}, "add": {"x-b": "2"}, "remove": ["x-c"]},
                     "response": {"set": {"x-d": "4"}}},
            rewrite={"uri": "/v2", "authority": "backend.example.com", "type": "ReplaceFullPath"},
            mirror=[{"backendRef": {"name": "shadow", "port": 80}}],
            timeout="30s",
            backendTimeout="10s",
        ),
        Routes(50, 50),
    ),
    (
        "a/b",
        gateway_canary({**BLUE_GREEN, "match": [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
        ]}, match=[{"uri": {"prefix": "/api"}}]),
        Routes(0, 100),
    ),
    ("mirror", gateway_canary({**BLUE_GREEN, "mirror": True, "mirrorWeight": 30}),
     Routes(100, 0, mirrored=True)),
    (
        "session affinity",
        gateway_canary({"sessionAffinity": {"cookieName": "c", "primaryCookieName": "p",
                                            "maxAge": 60, "path": "/", "secure": True}}),
        Routes(60, 40),
    ),
    ("baseline", gateway_canary({"judge": {"errors": {"maxIncrease": 1}, "baseline": True}}),
     Routes(60, 20, baseline=20)),
]  # fmt: skip


def test_every_shape_the_router_writes_is_a_valid_http_route_upstream() -> None:
    documents = [route(http_route_spec(c, routes)) for _, c, routes in SHAPES]
    expired = SHAPES[4][1]
    ended = expired.with_status(
        expired.status.model_copy(update={"session_affinity_cookie": "c=abc"})
    )
    documents.append(route(http_route_spec(ended, Routes(100, 0))))
    names = [name for name, _, _ in SHAPES] + ["session affinity, expiring"]
    assert dict(zip(names, upstream_problems(documents), strict=True)) == {
        name: [] for name in names
    }


def test_the_upstream_check_can_fail() -> None:
    """A route the Gateway API refuses (a `*` hostname, 17 rules) is refused here too."""
    bad = [route({"hostnames": ["*"]}), route({"rules": [{}] * 17})]
    first, second = upstream_problems(bad)
    assert first and "hostnames/0" in first[0]
    assert second and "rules" in second[0]


def test_a_gateway_the_local_models_accept_is_valid_upstream() -> None:
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "gateways"},
        "spec": {
            "gatewayClassName": "envoy",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                           "allowedRoutes": {"namespaces": {"from": "All"}}}],
        },
    }  # fmt: skip
    Gateway.model_validate(gateway)
    assert upstream_problems([gateway]) == [[]]
