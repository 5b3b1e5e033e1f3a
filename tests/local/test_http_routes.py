"""Gateway API Gateways and HTTPRoutes turned into the Envoy data-plane model (no Envoy
here; tests/local/test_http_routes_served.py sends requests through a real one)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml

from coalmine.local.envoy import (
    Destination,
    HeaderMatch,
    HeaderOps,
    Mirror,
    Rewrite,
    RouteMatch,
    StringMatch,
    VirtualHost,
)
from coalmine.local.http_routes import prefix_rewrite, weights_in_percent
from coalmine.local.translate import Objects, Translation, selections, translate
from tests.fixtures.objects import APP_SERVICES, objects_of, public_gateway

SERVICES = (
    APP_SERVICES
    + "---"
    + public_gateway(
        '{name: web, port: 80, protocol: HTTP, hostname: "*.example.com"}',
        "{name: any, port: 8080, protocol: HTTP}",
    )
)


def objects(text: str) -> Objects:
    return objects_of(SERVICES + "---" + text)


def endpoints(namespace: str, selector: dict[str, str], target: int | str) -> list[tuple[str, int]]:
    return [("127.0.0.1", 41001 if selector["app"] == "app-primary" else 41002)]


def translated(text: str) -> Translation:
    return translate(objects(text), endpoints, "127.0.0.1", 8080)


def hosts(translation: Translation) -> dict[str, VirtualHost]:
    [listener] = translation.plane.listeners
    return {h.name: h for h in listener.virtual_hosts}


def route(text: str, *, name: str = "app") -> str:
    return f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: demo}}
{text}
"""


WEIGHTED = route("""
spec:
  parentRefs: [{name: public, sectionName: web}]
  hostnames: [app.example.com]
  rules:
    - backendRefs:
        - {name: app-primary, port: 80, weight: 3}
        - {name: app-canary, port: 80, weight: 1}
      filters:
        - type: RequestMirror
          requestMirror: {backendRef: {name: app-canary, port: 80}, percent: 10}
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-via, value: coalmine}], remove: [x-debug]}
      timeouts: {request: 3s, backendRequest: 1s}
""")


def test_a_weighted_rule_becomes_one_route_with_percentages_mirror_headers_and_timeout() -> None:
    translation = translated(WEIGHTED)

    host = hosts(translation)["hr_demo_app"]
    assert host.domains == ("app.example.com",)
    [only] = host.routes
    assert only.destinations == (
        Destination("demo_app-primary", 75),
        Destination("demo_app-canary", 25),
    )
    assert only.matches == (RouteMatch(path=StringMatch.prefix("/")),)
    assert only.mirror == Mirror("demo_app-canary", 10.0)
    assert only.headers == HeaderOps(set={"x-via": "coalmine"}, remove=("x-debug",))
    assert only.timeout == timedelta(seconds=1)  # one try per backend: the shorter bound
    assert only.retries is None  # the Gateway API retries nothing unless told
    assert translation.warnings == []


def test_matches_are_ordered_by_the_specifications_precedence_across_rules() -> None:
    translation = translated(
        route("""
spec:
  parentRefs: [{name: public}]
  hostnames: [app.example.com]
  rules:
    - backendRefs: [{name: app-primary, port: 80}]
    - matches:
        - path: {type: PathPrefix, value: /demo/}
        - headers:
            - {name: Cookie, type: RegularExpression, value: "^(.*?;)?(canary=always)(;.*)?$"}
      backendRefs: [{name: app-canary, port: 80}]
    - matches: [{path: {type: Exact, value: /version}}]
      backendRefs: [{name: app-canary, port: 80}]
    - matches: [{method: POST, headers: [{name: x-a, value: b}, {name: x-c, value: d}]}]
      backendRefs: [{name: app-primary, port: 80}]
    - matches: [{method: PUT}]
      backendRefs: [{name: app-canary, port: 80}]
""")
    )

    routes = hosts(translation)["hr_demo_app"].routes
    assert [r.matches for r in routes] == [
        (RouteMatch(path=StringMatch.exact("/version")),),
        (RouteMatch(path=StringMatch.segments("/demo")),),
        (  # a method outranks any number of headers
            RouteMatch(
                path=StringMatch.prefix("/"),
                headers=(
                    HeaderMatch("x-a", StringMatch.exact("b")),
                    HeaderMatch("x-c", StringMatch.exact("d")),
                    HeaderMatch(":method", StringMatch.exact("POST")),
                ),
            ),
        ),
        (
            RouteMatch(
                path=StringMatch.prefix("/"),
                headers=(HeaderMatch(":method", StringMatch.exact("PUT")),),
            ),
        ),
        (
            RouteMatch(
                path=StringMatch.prefix("/"),
                headers=(
                    HeaderMatch("Cookie", StringMatch.regex("^(.*?;)?(canary=always)(;.*)?$")),
                ),
            ),
        ),
        (RouteMatch(path=StringMatch.prefix("/")),),
    ]
    assert [r.destinations[0].cluster for r in routes] == [
        "demo_app-canary",
        "demo_app-canary",
        "demo_app-primary",
        "demo_app-canary",
        "demo_app-canary",
        "demo_app-primary",
    ]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("/demo", StringMatch.segments("/demo")),
        ("/demo/", StringMatch.segments("/demo")),  # a trailing slash is ignored
        ("/", StringMatch.prefix("/")),
    ],
)
def test_a_path_prefix_is_a_prefix_of_whole_segments(value: str, path: StringMatch) -> None:
    translation = translated(
        route(f"""
spec:
  parentRefs: [{{name: public}}]
  rules:
    - matches: [{{path: {{type: PathPrefix, value: "{value}"}}}}]
      backendRefs: [{{name: app-canary, port: 80}}]
""")
    )
    [only] = hosts(translation)["hr_demo_app"].routes
    assert only.matches == (RouteMatch(path=path),)


@pytest.mark.parametrize(
    ("parent", "hostnames", "domains"),
    [
        ("{name: public, sectionName: web}", "[app.example.com]", ["app.example.com"]),
        ("{name: public, sectionName: web}", "[app.other.org]", []),
        ("{name: public, sectionName: web}", "[]", ["*.example.com"]),
        ("{name: public, sectionName: web}", '["*.example.com"]', ["*.example.com"]),
        ("{name: public, sectionName: web}", '["*.com"]', ["*.example.com"]),
        ("{name: public, sectionName: any}", "[]", ["*"]),
        ("{name: public, port: 8080}", "[app.other.org]", ["app.other.org"]),
        ("{name: public}", "[app.example.com]", ["app.example.com"]),
    ],
)
def test_a_route_answers_for_its_hostnames_within_its_listeners(
    parent: str, hostnames: str, domains: list[str]
) -> None:
    translation = translated(
        route(f"""
spec:
  parentRefs: [{parent}]
  hostnames: {hostnames}
  rules: [{{backendRefs: [{{name: app-primary, port: 80}}]}}]
""")
    )
    found = hosts(translation).get("hr_demo_app")
    assert list(found.domains if found else []) == domains


GRANT = """
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-other, namespace: demo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}]
  to: [{group: "", kind: Service}]
"""


def test_a_listener_takes_routes_of_its_own_namespace_unless_it_allows_all() -> None:
    other = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: other}
spec:
  parentRefs: [{name: public, namespace: demo}]
  hostnames: [elsewhere.example.com]
  rules: [{backendRefs: [{name: app-primary, namespace: demo, port: 80}]}]
"""
    translation = translated(other)
    assert "hr_other_elsewhere" not in hosts(translation)
    assert any("no listener of gateway public accepts" in w for w in translation.warnings)

    opened = SERVICES.replace(
        'hostname: "*.example.com"}',
        'hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}',
    )
    ungranted = translate(objects_of(opened + "---" + other), endpoints, "127.0.0.1", 8080)
    assert "hr_other_elsewhere" not in hosts(ungranted)  # the backend is in demo
    assert any("no ReferenceGrant lets it use services" in w for w in ungranted.warnings)
    granted = objects_of(opened + "---" + other + "---" + GRANT)
    translation = translate(granted, endpoints, "127.0.0.1", 8080)
    assert hosts(translation)["hr_other_elsewhere"].domains == ("elsewhere.example.com",)
    [entry] = hosts(translation)["hr_other_elsewhere"].routes
    assert [d.cluster for d in entry.destinations] == ["demo_app-primary"]


def test_routes_sharing_a_hostname_are_merged_and_a_virtual_service_keeps_its_own() -> None:
    api = route(
        """
spec:
  parentRefs: [{name: public}]
  hostnames: [app.example.com, vs.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /api}}]
      backendRefs: [{name: app-canary, port: 80}]
""",
        name="api",
    )
    web = route(
        """
spec:
  parentRefs: [{name: public}]
  hostnames: [app.example.com]
  rules: [{backendRefs: [{name: app-primary, port: 80}]}]
""",
        name="web",
    )
    istio = """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: public, namespace: demo}
spec: {servers: [{port: {number: 80, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: vs, namespace: demo}
spec:
  hosts: [vs.example.com]
  gateways: [public]
  http: [{route: [{destination: {host: app-primary}}]}]
"""
    translation = translated("---".join([api, web, istio]))

    found = hosts(translation)
    assert found["vs_demo_vs"].domains == ("vs.example.com",)
    merged = [h for h in found.values() if "app.example.com" in h.domains]
    assert len(merged) == 1
    assert [r.name for r in merged[0].routes] == ["hr_demo_api_0_0", "hr_demo_web_0_0"]
    assert any(
        "httproute demo/api: hostnames ['vs.example.com'] are already served" in w
        for w in translation.warnings
    )


def test_what_cannot_be_served_is_left_out_with_a_warning() -> None:
    translation = translated(
        route("""
spec:
  parentRefs: [{name: nowhere}, {name: public}]
  hostnames: [app.example.com]
  rules:
    - matches: [{path: {value: /zero}}]
      backendRefs: [{name: app-primary, port: 80, weight: 0}]
    - matches: [{path: {value: /gone}}]
      backendRefs: [{name: gone, port: 80}]
    - backendRefs: [{name: app-primary, port: 80}]
""")
    )
    assert [r.name for r in hosts(translation)["hr_demo_app"].routes] == ["hr_demo_app_2_0"]
    assert translation.warnings == [
        "httproute demo/app: parentRefs[0]: gateway demo/nowhere not found",
        "route hr_demo_app_0: every backendRef has weight 0; route left out",
        "route hr_demo_app_1: no cluster for ['demo_gone']; route left out",
    ]


@pytest.mark.parametrize(
    ("weights", "percent"),
    [
        ([1], [100]),
        ([1, 1], [50, 50]),
        ([1, 1, 1], [34, 33, 33]),
        ([90, 10], [90, 10]),
        ([0, 5], [0, 100]),
        ([2, 1], [67, 33]),
        ([0, 0], None),
    ],
)
def test_relative_weights_become_percentages_summing_to_100(
    weights: list[int], percent: list[int] | None
) -> None:
    assert weights_in_percent(weights) == percent


def test_the_gateway_api_objects_local_mode_is_tested_with_are_valid_upstream() -> None:
    """What these tests (and the apply and e2e ones) have local mode serve is what the
    Gateway API's own validators accept: local mode is not tested on objects a cluster
    would refuse."""
    from tests.e2e.test_local_gatewayapi import GATEWAY as E2E_GATEWAY
    from tests.local.test_gateway_api_checks import GATEWAY as CHECKED_GATEWAY
    from tests.local.test_gateway_api_checks import GRANT as CHECKED_GRANT
    from tests.local.test_gateway_api_checks import REWRITING
    from tests.local.test_gateway_api_checks import ROUTE as CHECKED_ROUTE
    from tests.local.test_gateway_api_checks import SHOP_ROUTE as CHECKED_SHOP_ROUTE
    from tests.local.test_http_routes_rewrite_served import GATEWAY as SERVED_GATEWAY
    from tests.local.test_http_routes_rewrite_served import GRANT as SERVED_GRANT
    from tests.local.test_http_routes_rewrite_served import SHOP_ROUTE, rewriting_routes
    from tests.routing.test_http_route_upstream import upstream_problems

    texts = [
        SERVICES,
        WEIGHTED,
        CHECKED_GATEWAY,
        CHECKED_ROUTE,
        E2E_GATEWAY,
        GRANT,
        CHECKED_GRANT.replace("NAME", "app"),
        REWRITING.replace("MATCHES", "[{path: {type: PathPrefix, value: /v1}}]"),
        CHECKED_SHOP_ROUTE,
        SERVED_GATEWAY,
        SERVED_GRANT,
        SHOP_ROUTE,
        rewriting_routes(),
    ]
    documents = [
        document
        for text in texts
        for document in yaml.safe_load_all(text)
        if document["apiVersion"].startswith("gateway.networking.k8s.io/")
    ]
    assert len(documents) == 19
    assert upstream_problems(documents) == [[]] * len(documents)


def test_header_matches_keep_the_first_of_equivalent_names_and_query_parameters_match() -> None:
    translation = translated(
        route("""
spec:
  parentRefs: [{name: public}]
  rules:
    - matches:
        - headers: [{name: X-A, value: "1"}, {name: x-a, value: "2"}]
          queryParams:
            - {name: q, value: "1"}
            - {name: Q, value: "2"}
            - {name: r, type: RegularExpression, value: "x.*"}
      backendRefs: [{name: app-canary, port: 80}]
""")
    )
    [only] = hosts(translation)["hr_demo_app"].routes
    assert only.matches == (
        RouteMatch(
            path=StringMatch.prefix("/"),
            headers=(HeaderMatch("X-A", StringMatch.exact("1")),),
            query=(  # query parameter names are case-sensitive
                HeaderMatch("q", StringMatch.exact("1")),
                HeaderMatch("Q", StringMatch.exact("2")),
                HeaderMatch("r", StringMatch.regex("x.*")),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("prefix", "replacement", "request_path", "modified"),
    [
        # the specification's HTTPPathModifier table (HTTPRoute ReplacePrefixMatch)
        ("/foo", "/xyz", "/foo/bar", "/xyz/bar"),
        ("/foo", "/xyz/", "/foo/bar", "/xyz/bar"),
        ("/foo/", "/xyz", "/foo/bar", "/xyz/bar"),
        ("/foo/", "/xyz/", "/foo/bar", "/xyz/bar"),
        ("/foo", "/xyz", "/foo", "/xyz"),
        ("/foo", "/xyz", "/foo/", "/xyz/"),
        ("/foo", "", "/foo/bar", "/bar"),
        ("/foo", "", "/foo/", "/"),
        ("/foo", "", "/foo", "/"),
        ("/foo", "/", "/foo/", "/"),
        ("/foo", "/", "/foo", "/"),
        # and around it: the root prefix, regex characters in the prefix
        ("/", "/api", "/x/y", "/api/x/y"),
        ("/", "", "/x", "/x"),
        ("/v1.0", "/v2", "/v1.0/items", "/v2/items"),
    ],
)
def test_a_prefix_rewrite_is_an_re2_rewrite_giving_the_specifications_paths(
    prefix: str, replacement: str, request_path: str, modified: str
) -> None:
    """Envoy's regex_rewrite replaces the first match of the pattern by the substitution,
    `\\1` the first group (empty when it did not take part): Python's re.sub, once."""
    pattern, substitution = prefix_rewrite(prefix, replacement)
    assert re.sub(pattern, substitution, request_path, count=1) == modified
    if "." in prefix:  # a literal dot, not any character
        assert re.match(pattern, request_path.replace(".", "x")) is None


TWO_PORTS = """
apiVersion: v1
kind: Service
metadata: {name: app-admin, namespace: demo}
spec:
  selector: {app: app-primary}
  ports: [{port: 80, targetPort: 8080}, {name: admin, port: 81, targetPort: admin}]
"""


def test_rewrites_and_second_ports_become_envoy_routes_and_clusters() -> None:
    text = (
        TWO_PORTS
        + "---"
        + route("""
spec:
  parentRefs: [{name: public}]
  hostnames: [app.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old/}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: app.internal
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
    backendRefs: [{name: app-admin, port: 81}]
  - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /}}}]
    backendRefs: [{name: app-admin, port: 80}]
""")
    )
    translation = translated(text)
    assert translation.warnings == []
    [old, rest] = hosts(translation)["hr_demo_app"].routes
    assert [d.cluster for d in old.destinations] == ["demo_app-admin__81"]
    assert old.rewrite == Rewrite("app.internal", "^/old(/.*)?$", "/new\\1")
    assert [d.cluster for d in rest.destinations] == ["demo_app-admin"]  # the first port's
    assert rest.rewrite == Rewrite(None, "^/.*$", "/")
    clusters = {c.name for c in translation.plane.clusters}
    assert "demo_app-admin__81" in clusters and "demo_app-admin__80" not in clusters
    assert selections(objects(text))["demo_app-admin__81"] == (
        "demo",
        {"app": "app-primary"},
        "admin",
    )
