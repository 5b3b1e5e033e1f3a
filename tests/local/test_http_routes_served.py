"""Gateway API objects served by a real Envoy: a Gateway and an HTTPRoute (written by hand,
or by the gatewayapi router's rendering) translated as `coalmine up` does, applied to
Envoy, and requests sent through it to backends that answer with their own name."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import aiohttp
import pytest
import yaml

from coalmine.api.canary import Canary
from coalmine.api.loading import load_text
from coalmine.engine.observations import Routes
from coalmine.local.envoy import EnvoyDataPlane
from coalmine.local.translate import translate
from coalmine.routing.http_route import http_route_spec
from tests.fixtures.objects import APP_SERVICES, http_route, objects_of, public_gateway
from tests.local.envoy.backends import Backend
from tests.local.envoy.conftest import MakeBackend, dataplane, gateway_url, http, make_backend
from tests.local.envoy.traffic import backends, burst, eventually, get

__all__ = ["dataplane", "http", "make_backend"]  # the fixtures these tests use

pytestmark = pytest.mark.slow

HOST = {"Host": "app.example.com"}

OBJECTS = (
    APP_SERVICES
    + "---"
    + public_gateway('{name: web, port: 80, protocol: HTTP, hostname: "*.example.com"}')
)

CANARY = """
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {name: app, namespace: demo}
spec:
  provider: gatewayapi
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  service:
    port: 80
    targetPort: 8080
    hosts: [app.example.com]
    gatewayRefs: [{name: public}]
  analysis:
    interval: 10s
    threshold: 2
    ANALYSIS
"""


class Served:
    """Two backends behind the Services `app-primary` and `app-canary`."""

    def __init__(self, plane: EnvoyDataPlane, primary: Backend, canary: Backend) -> None:
        self.plane = plane
        self.primary = primary
        self.canary = canary

    def endpoints(
        self, namespace: str, selector: dict[str, str], target: int | str
    ) -> list[tuple[str, int]]:
        backend = self.primary if selector["app"] == "app-primary" else self.canary
        return [("127.0.0.1", backend.port)]

    async def apply(self, http_route: dict[str, Any]) -> None:
        """Serve OBJECTS and this HTTPRoute, as `coalmine up` would."""
        objects = objects_of(OBJECTS + "---\n" + yaml.safe_dump(http_route))
        translation = translate(objects, self.endpoints, "127.0.0.1", 0)
        assert translation.warnings == []
        await self.plane.apply(translation.plane)


@pytest.fixture
async def served(dataplane: EnvoyDataPlane, make_backend: MakeBackend) -> Served:
    return Served(dataplane, await make_backend("primary"), await make_backend("canary"))


def canary(analysis: str) -> Canary:
    [model] = load_text(CANARY.replace("ANALYSIS", analysis)).resources
    assert isinstance(model, Canary)
    return model


async def test_relative_backend_weights_split_the_traffic(
    served: Served, http: aiohttp.ClientSession
) -> None:
    spec = {
        "parentRefs": [{"name": "public"}],
        "hostnames": ["app.example.com"],
        "rules": [
            {
                "backendRefs": [
                    {"name": "app-primary", "port": 80, "weight": 3},
                    {"name": "app-canary", "port": 80, "weight": 1},
                ]
            }
        ],
    }
    await served.apply(http_route(spec))

    seen = backends(await burst(http, gateway_url(served.plane), 2000, headers=HOST))

    assert set(seen) == {"primary", "canary"}
    assert abs(100 * seen["canary"] / 2000 - 25) <= spread(2000, 25), seen
    other = await get(http, gateway_url(served.plane), {"Host": "app.other.org"})
    assert other.status == 404  # not a hostname of the route's listener


def spread(requests: int, weight: int) -> float:
    """Percentage points a share of `requests` may stray from `weight`: Envoy picks each
    request's cluster at random, so the count is binomial; 4.5 standard deviations (one
    run in 150,000) and half a point. A fixed 4 points at 40 % of 1,000 was 2.6 of them,
    and failed about one run in a hundred; at 0 and 100 % it is exact."""
    share = weight / 100
    return 450 * math.sqrt(share * (1 - share) / requests) + 0.5


async def test_the_routers_weights_move_with_set_routes(
    served: Served, http: aiohttp.ClientSession
) -> None:
    analysis = canary("stepWeight: 20\n    maxWeight: 60")
    for weight in (0, 40, 100):
        await served.apply(http_route(http_route_spec(analysis, Routes(100 - weight, weight))))
        seen = backends(await burst(http, gateway_url(served.plane), 1000, headers=HOST))
        assert abs(100 * seen["canary"] / 1000 - weight) <= spread(1000, weight), (weight, seen)


async def test_ab_testing_sends_the_header_and_the_cookie_to_the_canary_only(
    served: Served, http: aiohttp.ClientSession
) -> None:
    ab = canary(
        "iterations: 5\n    match:\n"
        "      - headers: {x-canary: {exact: insider}}\n"
        "      - headers: {cookie: {regex: '^(.*?;\\s*)?(canary=always)(;.*)?$'}}"
    )
    await served.apply(http_route(http_route_spec(ab, Routes(0, 100))))
    url = gateway_url(served.plane, "/demo/hello")

    async def who(**headers: str) -> str:
        answer = await get(http, url, {**HOST, **headers})
        return answer.backend if answer.status == 200 else str(answer.status)

    assert Counter([await who() for _ in range(50)]) == Counter({"primary": 50})
    assert await who(**{"x-canary": "insider"}) == "canary"
    assert await who(**{"x-canary": "outsider"}) == "primary"
    assert await who(cookie="theme=dark; canary=always") == "canary"
    assert await who(cookie="canary=always") == "canary"
    assert await who(cookie="canary=never; other=always") == "primary"
    assert await who(cookie="notcanary=always") == "primary"


async def test_the_request_mirror_filter_copies_every_request_to_the_canary(
    served: Served, http: aiohttp.ClientSession
) -> None:
    mirrored = canary("iterations: 5\n    mirror: true")
    await served.apply(http_route(http_route_spec(mirrored, Routes(100, 0, mirrored=True))))

    answers = [await get(http, gateway_url(served.plane), HOST) for _ in range(30)]

    assert {a.backend for a in answers} == {"primary"}  # the copies' answers are dropped
    await eventually(lambda: served.canary.hits >= 30, f"{served.canary.hits} of 30 copies")
    assert served.canary.hits == 30
    assert served.canary.last_headers()["host"][0].endswith("-shadow")  # Envoy's mark


async def test_a_request_timeout_answers_504(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    slow = await make_backend("primary", delay_ms=1000)
    served = Served(dataplane, slow, await make_backend("canary"))
    spec = {
        "parentRefs": [{"name": "public"}],
        "hostnames": ["app.example.com"],
        "rules": [
            {"backendRefs": [{"name": "app-primary", "port": 80}], "timeouts": {"request": "200ms"}}
        ],
    }
    await served.apply(http_route(spec))

    answer = await get(http, gateway_url(dataplane), HOST)

    assert answer.status == 504


@pytest.mark.parametrize(
    ("path", "backend"),
    [
        ("/demo", "canary"),
        ("/demo/", "canary"),
        ("/demo/hello?x=1", "canary"),
        ("/demos", "primary"),
        ("/dem", "primary"),
        ("/version", "primary"),
    ],
)
async def test_a_path_prefix_matches_whole_segments(
    served: Served, http: aiohttp.ClientSession, path: str, backend: str
) -> None:
    spec = {
        "parentRefs": [{"name": "public"}],
        "rules": [
            {"backendRefs": [{"name": "app-primary", "port": 80}]},
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/demo/"}}],
                "backendRefs": [{"name": "app-canary", "port": 80}],
            },
        ],
    }
    await served.apply(http_route(spec))

    answer = await get(http, gateway_url(served.plane, path), HOST)

    assert (answer.status, answer.backend) == (200, backend)


async def test_session_affinity_keeps_who_reached_the_canary_there(
    served: Served, http: aiohttp.ClientSession
) -> None:
    sticky = canary("stepWeight: 50\n    maxWeight: 50\n    sessionAffinity: {cookieName: c-id}")
    await served.apply(http_route(http_route_spec(sticky, Routes(50, 50))))
    url = gateway_url(served.plane)

    cookies: dict[str, str] = {}
    for _ in range(100):  # half the new users reach the canary, which sets the cookie
        async with http.get(url, headers=HOST) as answer:
            cookies[answer.headers["x-backend"]] = answer.headers.get("Set-Cookie", "")
        if "canary" in cookies and "primary" in cookies:
            break
    assert cookies["canary"].startswith("c-id="), cookies
    assert cookies["primary"] == ""  # no primaryCookieName: the primary sets none
    cookie = cookies["canary"].split(";")[0]
    seen = backends(await burst(http, url, 50, headers={**HOST, "Cookie": f"a=b; {cookie}"}))
    assert seen == Counter({"canary": 50})


async def test_a_method_match_sends_that_method_only(
    served: Served, http: aiohttp.ClientSession
) -> None:
    spec = {
        "parentRefs": [{"name": "public"}],
        "hostnames": ["app.example.com"],
        "rules": [
            {"backendRefs": [{"name": "app-primary", "port": 80}]},
            {"matches": [{"method": "POST"}], "backendRefs": [{"name": "app-canary", "port": 80}]},
        ],
    }
    await served.apply(http_route(spec))
    url = gateway_url(served.plane)

    async with http.post(url, headers=HOST) as posted:
        assert (posted.status, posted.headers["x-backend"]) == (200, "canary")
    assert (await get(http, url, HOST)).backend == "primary"


async def test_query_parameter_matches_send_those_requests_only(
    served: Served, http: aiohttp.ClientSession
) -> None:
    spec = {
        "parentRefs": [{"name": "public"}],
        "hostnames": ["app.example.com"],
        "rules": [
            {"backendRefs": [{"name": "app-primary", "port": 80}]},
            {
                "matches": [
                    {"queryParams": [{"name": "canary", "value": "yes"}]},
                    {
                        "queryParams": [
                            {"name": "v", "type": "RegularExpression", "value": "2\\..*"}
                        ]
                    },
                ],
                "backendRefs": [{"name": "app-canary", "port": 80}],
            },
        ],
    }
    await served.apply(http_route(spec))
    url = gateway_url(served.plane, "/demo/hello")

    async def who(query: str) -> str:
        return (await get(http, f"{url}?{query}", HOST)).backend

    assert await who("canary=yes") == "canary"
    assert await who("a=1&canary=yes") == "canary"
    assert await who("canary=no") == "primary"
    assert await who("v=2.1") == "canary"
    assert await who("v=1.2") == "primary"
    assert await who("") == "primary"
