"""Flagger's session affinity through a real Envoy: the VirtualService the routers write
(routing.virtual_service), translated by the local runtime, keeps each cookie's holders on
one side whatever the weights, and expires the canary's cookie once the analysis is over."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp
import pytest

from coalmine.api.networking import VirtualService
from coalmine.api.workloads import Service
from coalmine.engine import Routes
from coalmine.engine.session_affinity import record_cookies
from coalmine.local.envoy import EnvoyDataPlane
from coalmine.local.translate import Objects, translate
from coalmine.routing.virtual_service import virtual_service_spec
from tests.engine.builders import canary
from tests.local.envoy.backends import Backend
from tests.local.envoy.conftest import MakeBackend, gateway_url

pytestmark = pytest.mark.slow

AFFINITY = {"cookieName": "canary-flagger-cookie", "primaryCookieName": "primary-flagger-cookie"}


def affine_canary() -> Any:
    c = canary({"sessionAffinity": AFFINITY}, name="podinfo", namespace="test",
               service={"port": 80})  # fmt: skip
    return c.with_status(c.status.model_copy(update={"last_applied_spec": "rev-2"}))


def service(name: str, app: str) -> Service:
    return Service.model_validate(
        {"metadata": {"name": name, "namespace": "test"},
         "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}}
    )  # fmt: skip


def after_routes(c: Any, routes: Routes) -> Any:
    """The canary with the status the engine writes once `routes` are set."""
    return c.with_status(record_cookies(c, c.status, routes.canary))


async def serve(
    plane: EnvoyDataPlane, routes: Routes, backends: dict[str, Backend], c: Any
) -> None:
    vs = VirtualService.model_validate(
        {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
         "metadata": {"name": "podinfo", "namespace": "test"},
         "spec": virtual_service_spec(c, routes)}
    )  # fmt: skip
    services = [service("podinfo-primary", "primary"), service("podinfo-canary", "canary")]

    def endpoints(_: str, selector: dict[str, str], __: int | str) -> list[tuple[str, int]]:
        return [("127.0.0.1", backends[selector["app"]].port)]

    try:
        host, port = plane.gateway_address  # keep the port of the first apply
    except KeyError:
        host, port = "127.0.0.1", 0
    objects = Objects(services=services, virtual_services=[vs])
    translation = translate(objects, endpoints, host, port)
    assert translation.warnings == []
    await plane.apply(translation.plane)


async def ask(http: aiohttp.ClientSession, url: str, cookie: str = "") -> tuple[str, str]:
    """(the backend that answered, the Set-Cookie it came back with)."""
    headers = {"Host": "podinfo", **({"Cookie": cookie} if cookie else {})}
    async with http.get(url, headers=headers) as response:
        await response.read()
        assert response.status == 200
        return response.headers.get("x-backend", ""), response.headers.get("Set-Cookie", "")


async def test_cookie_holders_stay_on_their_side_and_the_cookie_expires_after(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    backends = {"primary": await make_backend("primary"), "canary": await make_backend("canary")}
    running = after_routes(affine_canary(), Routes(50, 50))
    await serve(dataplane, Routes(50, 50), backends, running)
    url = gateway_url(dataplane)

    given: dict[str, str] = {}
    for _ in range(200):
        who, cookie = await ask(http, url)
        given.setdefault(who, cookie.split(";")[0])
        if len(given) == 2:
            break
    assert given["canary"].startswith("canary-flagger-cookie=")
    assert given["primary"].startswith("primary-flagger-cookie=")
    for side, cookie in given.items():
        answers = Counter([(await ask(http, url, f"session=1; {cookie}"))[0] for _ in range(30)])
        assert answers == {side: 30}

    assert given["canary"] == running.status.session_affinity_cookie
    ended = after_routes(running, Routes(100, 0))  # promoted or rolled back
    assert ended.status.previous_session_affinity_cookie == given["canary"]
    await serve(dataplane, Routes(100, 0), backends, ended)
    who, cookie = await ask(http, url, given["canary"])
    assert who == "primary"
    assert cookie == f"{given['canary']}; Max-Age=-1"
