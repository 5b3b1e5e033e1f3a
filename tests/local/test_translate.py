"""Objects users know, turned into the Envoy data-plane model (no Envoy needed here)."""

from __future__ import annotations

from datetime import timedelta

from coalmine.api.istio import HTTPRetry
from coalmine.local.envoy import (
    ISTIO_DEFAULT_RETRIES,
    Destination,
    HeaderMatch,
    HeaderOps,
    Mirror,
    Retries,
    RouteMatch,
    StringMatch,
)
from coalmine.local.translate import Objects, Translation, retry_policy, translate
from tests.fixtures.objects import objects_of

MANIFESTS = """
apiVersion: v1
kind: Service
metadata: {name: go-demo-7, namespace: demo}
spec:
  selector: {app: go-demo-7}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: go-demo-7, namespace: demo}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: go-demo-7, namespace: demo}
spec:
  host: go-demo-7
  subsets:
  - {name: primary, labels: {release: primary}}
  - {name: canary, labels: {release: canary}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: demo}
spec:
  hosts: ["*"]
  gateways: [go-demo-7]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}, uri: {prefix: /demo}}]
    route:
    - destination: {host: go-demo-7, subset: canary}
  - route:
    - destination: {host: go-demo-7, subset: primary}
      weight: 80
    - destination: {host: go-demo-7, subset: canary}
      weight: 20
      headers: {request: {set: {x-release: canary}}}
    timeout: 3s
    retries: {attempts: 2, perTryTimeout: 1s}
    mirror: {host: go-demo-7, subset: canary}
    mirrorPercentage: {value: 10}
    headers: {request: {add: {x-via: coalmine}, remove: [x-debug]}}
"""

REPLICAS = {
    ("demo", "release=primary"): [("127.0.0.1", 41001), ("127.0.0.1", 41002)],
    ("demo", "release=canary"): [("127.0.0.1", 41003)],
    ("demo", ""): [("127.0.0.1", 41001), ("127.0.0.1", 41002), ("127.0.0.1", 41003)],
}


def endpoints(namespace: str, selector: dict[str, str], target: int | str) -> list[tuple[str, int]]:
    assert target == 8080
    extra = ",".join(f"{k}={v}" for k, v in sorted(selector.items()) if k != "app")
    return REPLICAS[(namespace, extra)]


def objects(text: str = MANIFESTS) -> Objects:
    return objects_of(text)


def translated(given: Objects | None = None) -> Translation:
    return translate(given or objects(), endpoints, "127.0.0.1", 8080)


def test_a_cluster_per_service_and_per_subset_with_ready_replicas() -> None:
    plane = translated().plane
    clusters = {c.name: [e.port for e in c.endpoints] for c in plane.clusters}
    assert clusters == {
        "demo_go-demo-7": [41001, 41002, 41003],
        "demo_go-demo-7_primary": [41001, 41002],
        "demo_go-demo-7_canary": [41003],
    }


def test_a_gateway_virtual_service_answers_for_its_hosts() -> None:
    listener = translated().plane.listener("gateway")
    assert (listener.host, listener.port) == ("127.0.0.1", 8080)
    first = listener.virtual_hosts[0]
    assert first.domains == ("*",)
    matched, weighted = first.routes
    assert matched.matches == (
        RouteMatch(
            path=StringMatch.prefix("/demo"),
            headers=(HeaderMatch("x-canary", StringMatch.exact("yes")),),
        ),
    )
    assert matched.destinations == (Destination("demo_go-demo-7_canary", 100),)
    assert weighted.destinations == (
        Destination("demo_go-demo-7_primary", 80),
        Destination("demo_go-demo-7_canary", 20, HeaderOps(set={"x-release": "canary"})),
    )
    assert weighted.timeout == timedelta(seconds=3)
    assert weighted.retries == Retries(2, timedelta(seconds=1), retriable_status_codes=(503,))
    assert matched.retries == ISTIO_DEFAULT_RETRIES  # no `retries`: Istio's default policy
    assert weighted.mirror == Mirror("demo_go-demo-7_canary", 10.0)
    assert weighted.headers == HeaderOps(add={"x-via": "coalmine"}, remove=("x-debug",))


def test_services_not_claimed_answer_for_their_in_cluster_names() -> None:
    hosts = translated().plane.listener("gateway").virtual_hosts
    service_host = hosts[1]
    assert service_host.domains == (
        "go-demo-7",
        "go-demo-7.demo",
        "go-demo-7.demo.svc",
        "go-demo-7.demo.svc.cluster.local",
    )
    assert service_host.routes[0].destinations == (Destination("demo_go-demo-7", 100),)


def test_a_mesh_virtual_service_claims_the_service_names() -> None:
    mesh = MANIFESTS.replace('  hosts: ["*"]\n  gateways: [go-demo-7]\n', "  hosts: [go-demo-7]\n")
    hosts = translated(objects(mesh)).plane.listener("gateway").virtual_hosts
    assert [h.name for h in hosts] == ["vs_demo_go-demo-7"]
    assert "go-demo-7.demo.svc.cluster.local" in hosts[0].domains


def test_a_missing_gateway_leaves_the_virtual_service_out_with_a_warning() -> None:
    given = objects()
    without_gateway = Objects(given.services, (), given.virtual_services, given.destination_rules)
    result = translated(without_gateway)
    assert result.warnings == ["virtualservice demo/go-demo-7: gateway go-demo-7 not found"]
    assert [h.name for h in result.plane.listener("gateway").virtual_hosts] == [
        "svc_demo_go-demo-7"
    ]


def test_retries_convert_as_istio_does() -> None:
    """pilot's retry.ConvertPolicy: none is the default policy, attempts 0 is off, numbers
    in retryOn are status codes."""
    assert retry_policy(None) == Retries(
        2,
        None,
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        (503,),
    )
    assert retry_policy(HTTPRetry(attempts=0)) is None
    assert retry_policy(HTTPRetry(attempts=3)) == Retries(3, retriable_status_codes=(503,))
    assert retry_policy(HTTPRetry(attempts=1, retry_on="5xx")) == Retries(1, retry_on="5xx")
    assert retry_policy(HTTPRetry(attempts=1, retry_on="gateway-error, 502,504")) == Retries(
        1, retry_on="gateway-error,retriable-status-codes", retriable_status_codes=(502, 504)
    )


def test_service_routes_get_istios_default_retries() -> None:
    hosts = translated().plane.listener("gateway").virtual_hosts
    service_routes = [r for h in hosts if h.name.startswith("svc_") for r in h.routes]
    assert service_routes
    assert all(r.retries == ISTIO_DEFAULT_RETRIES for r in service_routes)
