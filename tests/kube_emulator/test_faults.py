"""Fault injection: each kind fails a request the way a struggling API server does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

import aiohttp
import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.faults import Faults
from tests.kube_emulator.samples import deployment

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def web(kube_emulator: KubeEmulator) -> dict[str, Any]:
    return kube_emulator.create("apps/v1", "deployments", deployment("web"), namespace="default")


async def scale(http: aiohttp.ClientSession, replicas: int) -> int:
    body = {"spec": {"replicas": replicas}}
    async with http.patch(f"{DEPLOYMENTS}/web", json=body, headers=MERGE) as answer:
        return answer.status


def replicas(kube_emulator: KubeEmulator) -> int:
    found = kube_emulator.get("apps/v1", "deployments", "web", "default")
    assert found is not None
    return int(found["spec"]["replicas"])


async def test_a_conflict_or_an_error_is_not_applied(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    for kind, status in [("conflict", 409), ("error", 500)]:
        kube_emulator.faults.configure(rate=1.0, kinds=(kind,), seed=1)
        assert await scale(kube_http, 5) == status
        assert replicas(kube_emulator) == 2
    assert kube_emulator.faults.injected == {"conflict": 1, "error": 1}


async def test_a_garbled_answer_is_a_200_page_not_applied_and_a_watch_gets_one_line(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("garbled",), seed=1)
    assert await scale(kube_http, 5) == 200
    url = f"{DEPLOYMENTS}?watch=true&resourceVersion={web['metadata']['resourceVersion']}"
    async with kube_http.get(url) as answer:
        body = await asyncio.wait_for(answer.read(), 5)
    assert answer.status == 200 and body.startswith(b"<html>") and body.count(b"\n") == 1

    kube_emulator.faults.configure(rate=0.0, seed=1)
    assert replicas(kube_emulator) == 2
    assert kube_emulator.faults.injected == {"garbled": 2}


async def test_a_lost_answer_is_applied_but_answered_504(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("lost-answer",), seed=1)
    assert await scale(kube_http, 5) == 504
    assert replicas(kube_emulator) == 5
    async with kube_http.get(f"{DEPLOYMENTS}/web") as answer:  # reads do not lose answers
        assert answer.status == 200


async def test_a_timeout_hangs_then_answers_504(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("timeout",), seed=1)
    kube_emulator.faults.hang_s = 0.3
    with pytest.raises(TimeoutError):
        async with kube_http.get(
            f"{DEPLOYMENTS}/web", timeout=aiohttp.ClientTimeout(total=0.1)
        ) as answer:
            await answer.read()
    async with kube_http.get(f"{DEPLOYMENTS}/web") as answer:
        assert answer.status == 504
    # the emulator's own time per request (what benchmarks tell from a client's wait)
    hung = [r.seconds for r in kube_emulator.requests if r.path == f"{DEPLOYMENTS}/web"]
    assert len(hung) == 2 and min(hung) >= 0.3


async def test_a_reset_closes_the_connection_at_once_without_applying(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("reset",), seed=1)
    kube_emulator.faults.hang_s = 60.0  # not used by a reset: it must not wait at all
    async with asyncio.timeout(10):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await scale(kube_http, 5)
    assert replicas(kube_emulator) == 2
    kube_emulator.faults.configure(rate=0.0, seed=1)
    assert await scale(kube_http, 5) == 200  # the next request gets a new connection


async def test_weights_set_the_odds_of_each_kind(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    weights = {"timeout": 0.0, "reset": 3.0}  # error keeps its 1
    kube_emulator.faults.configure(rate=1.0, kinds=("error", "timeout", "reset"), seed=5,
                                   weights=weights)  # fmt: skip
    for _ in range(40):
        with contextlib.suppress(aiohttp.ServerDisconnectedError):
            async with kube_http.get(f"{DEPLOYMENTS}/web") as answer:
                assert answer.status == 500
    injected = kube_emulator.faults.injected
    assert set(injected) == {"error", "reset"}, injected
    assert injected["reset"] > 2 * injected["error"] > 0, injected


async def test_a_dropped_watch_is_cut_and_a_new_one_resumes(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("drop-watch",), seed=1)
    kube_emulator.faults.drop_after_s = 0.2
    version = web["metadata"]["resourceVersion"]
    url = f"{DEPLOYMENTS}?watch=true&resourceVersion={version}&timeoutSeconds=30"
    async with kube_http.get(url) as answer:
        assert answer.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(answer.read(), 5)
    kube_emulator.faults.configure(rate=0.0, seed=1)
    kube_emulator.create("apps/v1", "deployments", deployment("api"), namespace="default")
    async with kube_http.get(url.replace("timeoutSeconds=30", "timeoutSeconds=1")) as answer:
        assert b'"name":"api"' in (await answer.read()).replace(b" ", b"")


async def test_discovery_is_never_faulted_and_a_seed_repeats_a_run(
    kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession, web: dict[str, Any]
) -> None:
    kube_emulator.faults.configure(rate=1.0, seed=7)
    for path in ("/api", "/apis", "/apis/apps/v1", "/version"):
        async with kube_http.get(path) as answer:
            assert answer.status == 200, path
    assert kube_emulator.faults.considered == 0

    def run(seed: int) -> list[str | None]:
        faults = Faults(rate=0.3, kinds=("error",), seed=seed)
        return [faults.pick(request) for _ in range(50)]

    class Request:
        path = "/apis/apps/v1/namespaces/default/deployments/web"
        path_qs = path
        method = "GET"
        query: ClassVar[dict[str, str]] = {}

    request: Any = Request()
    assert run(3) == run(3)
    assert 5 <= sum(kind is not None for kind in run(3)) <= 25


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds \\['flood'\\]; known: "):
        Faults(kinds=("flood",))
    with pytest.raises(ValueError, match="unknown fault kinds \\['flood'\\]; known: "):
        Faults().configure(rate=0.1, seed=1, weights={"flood": 2.0})
    with pytest.raises(
        ValueError, match="fault weights must be 0 or more; negative for \\['reset'\\]"
    ):
        Faults(weights={"reset": -1.0})
