"""Applying the Gateway API's Gateway and HTTPRoute to the local store: stored beside
Istio's objects, checked against each other, refused by name where Envoy locally cannot
serve them, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.errors import ManifestError
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo}
spec:
  selector: {app: app}
  ports: [{port: 80, targetPort: 8080}, {name: admin, port: 9090}]
"""

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: demo}
spec:
  gatewayClassName: coalmine
  listeners: [{name: web, port: 80, protocol: HTTP}]
"""

ISTIO_GATEWAY = """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: public, namespace: demo}
spec:
  servers: [{port: {number: 80, protocol: HTTP}, hosts: ["*"]}]
"""

ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: demo}
spec:
  parentRefs: [{name: public, sectionName: web}]
  hostnames: [app.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}, headers: [{name: x-canary, value: "yes"}]}]
      backendRefs: [{name: app, port: 80}]
      filters:
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 5}}
      timeouts: {request: 2s}
"""


@pytest.fixture
def book(tmp_path: Path) -> ObjectBook:
    return ObjectBook(Store(tmp_path / "state.db"))


def refused(book: ObjectBook, text: str) -> list[str]:
    with pytest.raises(ManifestError) as error:
        book.apply(text)
    return [str(p) for p in error.value.problems]


def test_a_gateway_api_gateway_and_an_istio_gateway_of_one_name_are_stored_apart(
    book: ObjectBook,
) -> None:
    applied = book.apply("---".join([SERVICE, GATEWAY, ISTIO_GATEWAY, ROUTE]))

    assert [str(a) for a in applied] == [
        "service/app created (namespace demo)",
        "gateway.gateway.networking.k8s.io/public created (namespace demo)",
        "gateway/public created (namespace demo)",
        "httproute/app created (namespace demo)",
    ]
    stored = book.store.get("Gateway.gateway.networking.k8s.io", "demo", "public")
    assert stored is not None and stored.manifest["spec"]["gatewayClassName"] == "coalmine"
    istio = book.store.get("Gateway", "demo", "public")
    assert istio is not None and istio.manifest["apiVersion"] == "networking.istio.io/v1beta1"
    assert [str(a) for a in book.apply(ROUTE)] == ["httproute/app unchanged (namespace demo)"]


def test_a_route_needs_its_gateway_and_its_services_and_nothing_is_stored_otherwise(
    book: ObjectBook,
) -> None:
    assert refused(book, ROUTE) == [
        "httproute app: spec.parentRefs[0].name: gateway public not found in namespace demo;"
        " apply the Gateway (gateway.networking.k8s.io/v1) first",
        "httproute app: spec.rules[0].filters[0].requestMirror.backendRef.name: service app"
        " not found in namespace demo; apply it first",
        "httproute app: spec.rules[0].backendRefs[0].name: service app not found in"
        " namespace demo; apply it first",
    ]
    assert book.store.objects() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("sectionName: web", "sectionName: admin"),
            "spec.parentRefs[0].sectionName: gateway public has no listener 'admin';"
            " its listeners: web",
        ),
        (
            ("{name: app, port: 80}]\n", "{name: app, port: 9091}]\n"),
            "spec.rules[0].backendRefs[0].port: service app has no port 9091; its ports:"
            " [80, 9090]",
        ),
        (
            (
                "backendRefs: [{name: app, port: 80}]",
                "backendRefs: [{name: app, namespace: other, port: 80}]",
            ),
            "spec.rules[0].backendRefs[0].namespace: service app is in namespace other, and"
            " no ReferenceGrant there lets HTTPRoutes of namespace demo refer to it: apply one"
            " in other (from: group gateway.networking.k8s.io, kind HTTPRoute, namespace demo;"
            " to: group '', kind Service), or use a Service of namespace demo",
        ),
        (
            (
                "backendRefs: [{name: app, port: 80}]",
                "backendRefs: [{name: app, port: 80, filters: [{type: URLRewrite,"
                " urlRewrite: {hostname: app.internal}}]}]",
            ),
            "spec.rules[0].backendRefs[0].filters[0].type: URLRewrite is not supported here"
            " by the local runtime (coalmine up), which applies RequestHeaderModifier,"
            " ResponseHeaderModifier here; remove it, or use Kubernetes (a URLRewrite filter"
            " of the rule is served)",
        ),
        (
            ("{name: public, sectionName: web}", "{name: app, kind: Service, group: ''}"),
            "spec.parentRefs[0].kind: only Gateway parents are served by the local runtime",
        ),
        (
            (
                'headers: [{name: x-canary, value: "yes"}]',
                "queryParams: [{name: q, type: RegularExpression, value: '(?<=x)'}]",
            ),
            "spec.rules[0].matches[0].queryParams[0].value: not a valid RE2 regex",
        ),
        (
            ('value: "yes"}', 'type: RegularExpression, value: "(?=lookahead)"}'),
            "spec.rules[0].matches[0].headers[0].value: not a valid RE2 regex (Envoy's syntax)",
        ),
        (
            ("{type: PathPrefix, value: /}", "{type: RegularExpression, value: '/[a-z]{1,60}x'}"),
            "spec.rules[0].matches[0].path.value: RE2 program size 125 is above Envoy's limit",
        ),
        (
            ("{type: PathPrefix, value: /}", "{type: PathPrefix, value: '/a?b'}"),
            "spec.rules[0].matches[0].path.value: a path holds no '?' or '#'",
        ),
        (
            ("- {type: RequestMirror", "- {type: RequestRedirect"),
            "spec.rules[0].filters[0]",
        ),
    ],
)
def test_what_the_local_envoy_cannot_serve_is_refused_naming_the_field(
    book: ObjectBook, change: tuple[str, str], expected: str
) -> None:
    book.apply("---".join([SERVICE, GATEWAY]))
    old, new = change
    assert old in ROUTE
    problems = refused(book, ROUTE.replace(old, new))
    assert any(p.startswith(f"httproute app: {expected}") for p in problems), problems
    assert book.store.get("HTTPRoute", "demo", "app") is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("protocol: HTTP", "protocol: HTTPS"),
            "gateway public: spec.listeners[0].protocol: protocol 'HTTPS' is not supported"
            " by the local runtime",
        ),
        (
            ("protocol: HTTP}", "protocol: HTTP, allowedRoutes: {namespaces: {from: Selector}}}"),
            "gateway public: spec.listeners[0].allowedRoutes.namespaces.from: Selector is not"
            " supported by the local runtime",
        ),
    ],
)
def test_a_gateway_listener_the_local_gateway_cannot_be_is_refused(
    book: ObjectBook, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GATEWAY
    problems = refused(book, GATEWAY.replace(old, new))
    assert any(p.startswith(expected) for p in problems), problems


CANARY = """
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {name: app, namespace: demo}
spec:
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  service: {port: 80, gatewayRefs: [{name: public, sectionName: web}]}
  analysis: {interval: 10s, threshold: 2, iterations: 2}
"""


def test_a_gatewayapi_canary_needs_the_gateways_it_attaches_to(book: ObjectBook) -> None:
    assert refused(book, CANARY) == [
        "canary app: spec.service.gatewayRefs[0].name: gateway public not found in namespace"
        " demo; apply the Gateway (gateway.networking.k8s.io/v1) first",
    ]
    assert refused(
        book, GATEWAY + "---" + CANARY.replace("sectionName: web", "sectionName: x")
    ) == [
        "canary app: spec.service.gatewayRefs[0].sectionName: gateway public has no listener"
        " 'x'; its listeners: web",
    ]
    assert book.store.objects() == []
    applied = book.apply(GATEWAY + "---" + CANARY)
    assert [str(a) for a in applied][-1] == "canary/app created (namespace demo)"


REWRITING = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: demo}
spec:
  parentRefs: [{name: public}]
  rules:
    - matches: MATCHES
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: app.internal
            path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}
      backendRefs: [{name: app, port: 9090}]
"""


@pytest.mark.parametrize(
    ("matches", "counts"),
    [
        ("[{path: {type: Exact, value: /v1}}]", "1 matches, 0 of them"),
        (
            "[{path: {type: PathPrefix, value: /v1}}, {path: {type: PathPrefix, value: /old}}]",
            "2 matches, 2 of them",
        ),
    ],
)
def test_a_prefix_rewrite_needs_the_rules_one_path_prefix_match(
    book: ObjectBook, matches: str, counts: str
) -> None:
    """The Gateway API CRD's own rule; a rule with one PathPrefix match (the default,
    every path, included) is served, on a Service's second port too."""
    book.apply("---".join([SERVICE, GATEWAY]))
    assert refused(book, REWRITING.replace("MATCHES", matches)) == [
        "httproute app: spec.rules[0].filters[0].urlRewrite.path.type: ReplacePrefixMatch"
        f" replaces the prefix of the rule's one PathPrefix match; the rule has {counts}"
        " PathPrefix: keep exactly one PathPrefix match, or use ReplaceFullPath"
    ]
    book.apply(REWRITING.replace("MATCHES", "[{path: {type: PathPrefix, value: /v1}}]"))
    book.apply(REWRITING.replace("- matches: MATCHES\n      filters:", "- filters:"))


GRANT = """
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-shop, namespace: demo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service, name: NAME}]
"""
SHOP_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  rules: [{backendRefs: [{name: app, namespace: demo, port: 80}]}]
"""


def test_a_reference_grant_lets_a_route_use_a_service_of_its_namespace(book: ObjectBook) -> None:
    book.apply(SERVICE)
    other_service = refused(book, GRANT.replace("NAME", "other") + "---" + SHOP_ROUTE)
    assert other_service[0].startswith(
        "httproute shop: spec.rules[0].backendRefs[0].namespace: service app is in namespace"
        " demo, and no ReferenceGrant there lets HTTPRoutes of namespace shop refer to it"
    )
    wrong_kind = GRANT.replace("NAME", "app").replace("kind: HTTPRoute", "kind: GRPCRoute")
    assert refused(book, wrong_kind + "---" + SHOP_ROUTE)
    applied = book.apply(GRANT.replace("NAME", "app") + "---" + SHOP_ROUTE)
    assert [str(a) for a in applied] == [
        "referencegrant/from-shop created (namespace demo)",
        "httproute/shop created (namespace shop)",
    ]
    stored = book.store.get("ReferenceGrant", "demo", "from-shop")
    assert stored is not None and stored.manifest["spec"]["to"][0]["name"] == "app"
