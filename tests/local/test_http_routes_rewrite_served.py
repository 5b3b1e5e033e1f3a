"""What local mode serves of the Gateway API beyond weights, through a real Envoy: the
URLRewrite filter (hostname, ReplaceFullPath, ReplacePrefixMatch as the specification's
table defines it), a backendRef to a Service's second port, and a backendRef to another
namespace allowed by a ReferenceGrant. Objects are loaded, checked as `coalmine apply`
checks them, translated as `coalmine up` does, and applied to Envoy."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from coalmine.errors import ManifestError
from coalmine.local.admission import routing_objects
from coalmine.local.envoy import EnvoyDataPlane
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.local.translate import translate
from tests.local.envoy.backends import Backend
from tests.local.envoy.conftest import MakeBackend, dataplane, gateway_url, http, make_backend
from tests.local.envoy.traffic import get

__all__ = ["dataplane", "http", "make_backend"]  # the fixtures these tests use

pytestmark = pytest.mark.slow

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: demo}
spec:
  gatewayClassName: coalmine
  listeners:
  - name: web
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: All}}
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo}
spec:
  selector: {app: app}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 81, targetPort: 9090}]
"""

SPEC_TABLE = [
    # (prefix match, replacePrefixMatch, request path, modified path): the specification's
    # HTTPPathModifier table, row by row
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
]
COMBINATIONS = sorted({(prefix, replacement) for prefix, replacement, _, _ in SPEC_TABLE})


def host_of(prefix: str, replacement: str) -> str:
    return f"c{COMBINATIONS.index((prefix, replacement))}.example.com"


def rewriting_routes() -> str:
    """One HTTPRoute per (prefix, replacement) of the table, each on a hostname of its own."""
    routes = []
    for prefix, replacement in COMBINATIONS:
        routes.append(f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r{COMBINATIONS.index((prefix, replacement))}, namespace: demo}}
spec:
  parentRefs: [{{name: public}}]
  hostnames: [{host_of(prefix, replacement)}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: "{prefix}"}}}}]
    filters:
    - type: URLRewrite
      urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: "{replacement}"}}}}
    backendRefs: [{{name: app, port: 80}}]
""")
    routes.append("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: full, namespace: demo}
spec:
  parentRefs: [{name: public}]
  hostnames: [full.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: internal.example.org
        path: {type: ReplaceFullPath, replaceFullPath: /new}
    backendRefs: [{name: app, port: 80}]
""")
    return "---".join(routes)


class Stack:
    """A store with `coalmine apply`'s checks, served by a real Envoy, on named backends:
    each (namespace, selector app, target port) answers with its own backend."""

    def __init__(
        self, tmp: Path, plane: EnvoyDataPlane, backends: dict[tuple[str, int | str], Backend]
    ) -> None:
        self.book = ObjectBook(Store(tmp / "state.db"))
        self.plane = plane
        self.backends = backends

    def endpoints(
        self, namespace: str, selector: dict[str, str], target: int | str
    ) -> list[tuple[str, int]]:
        backend = self.backends.get((namespace, target))
        return [("127.0.0.1", backend.port)] if backend is not None else []

    async def serve(self, text: str) -> list[str]:
        """Apply `text` (refused as `coalmine apply` refuses), serve the store; the warnings."""
        self.book.apply(text)
        translation = translate(routing_objects(self.book.models), self.endpoints, "127.0.0.1", 0)
        await self.plane.apply(translation.plane)
        return translation.warnings

    async def get(self, http: aiohttp.ClientSession, host: str, path: str) -> tuple[int, str]:
        answer = await get(http, gateway_url(self.plane, path), {"Host": host})
        return answer.status, answer.backend


@pytest.fixture
async def stack(tmp_path: Path, dataplane: EnvoyDataPlane, make_backend: MakeBackend) -> Stack:
    backends = {
        ("demo", 8080): await make_backend("app"),
        ("demo", 9090): await make_backend("admin"),
        ("shop", 8080): await make_backend("shop-app"),
    }
    return Stack(tmp_path, dataplane, backends)


async def test_url_rewrite_replaces_the_prefix_as_the_specification_table_says(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    assert await stack.serve(GATEWAY + "---" + SERVICE + "---" + rewriting_routes()) == []
    app = stack.backends[("demo", 8080)]
    for prefix, replacement, request, modified in SPEC_TABLE:
        before = len(app.paths)
        status, backend = await stack.get(http, host_of(prefix, replacement), request + "?q=1")
        assert (status, backend) == (200, "app"), (prefix, replacement, request)
        assert app.paths[before:] == [modified + "?q=1"], (prefix, replacement, request)
    status, _ = await stack.get(http, host_of("/foo", "/xyz"), "/foobar")
    assert status == 404  # PathPrefix /foo matches whole segments: /foobar is not under it


async def test_url_rewrite_replaces_the_full_path_and_the_host(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    await stack.serve(GATEWAY + "---" + SERVICE + "---" + rewriting_routes())
    app = stack.backends[("demo", 8080)]
    assert await stack.get(http, "full.example.com", "/old/deep/path?x=1") == (200, "app")
    assert app.paths[-1] == "/new?x=1"
    assert app.headers[-1]["host"] == ["internal.example.org"]


async def test_a_backend_ref_to_a_services_second_port_reaches_that_port(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    route = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ports, namespace: demo}
spec:
  parentRefs: [{name: public}]
  hostnames: [ports.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}}]
    backendRefs: [{name: app, port: 81}]
  - backendRefs: [{name: app, port: 80}]
"""
    assert await stack.serve(GATEWAY + "---" + SERVICE + "---" + route) == []
    assert await stack.get(http, "ports.example.com", "/admin/stats") == (200, "admin")
    assert await stack.get(http, "ports.example.com", "/") == (200, "app")


SHOP_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: demo}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: app, namespace: demo, port: 80}]}]
"""
GRANT = """
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: shop-routes, namespace: demo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service, name: app}]
"""


async def test_a_backend_in_another_namespace_is_served_with_a_reference_grant(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    await stack.serve(GATEWAY + "---" + SERVICE)
    with pytest.raises(
        ManifestError, match="no ReferenceGrant there lets HTTPRoutes of namespace shop"
    ):
        stack.book.apply(SHOP_ROUTE)

    assert await stack.serve(GRANT + "---" + SHOP_ROUTE) == []
    assert await stack.get(http, "shop.example.com", "/") == (200, "app")

    stack.book.delete(GRANT)  # the grant withdrawn
    translation = translate(routing_objects(stack.book.models), stack.endpoints, "127.0.0.1", 0)
    await stack.plane.apply(translation.plane)
    assert any("no ReferenceGrant lets it use services" in w for w in translation.warnings)
    status, _ = await stack.get(http, "shop.example.com", "/")
    assert status == 404
