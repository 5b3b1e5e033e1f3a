"""Deleting a Canary at any phase, and re-applying unchanged manifests, fail no request.

Real Envoy, real processes; load goes to the gateway host and to the in-cluster name
the whole time, and every request must be answered 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from coalmine.api.canary import Phase
from coalmine.demo.scenario import canary_manifest
from coalmine.load import LoadGenerator, LoadPlan, LoadResult
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import (
    DEFAULT_ANALYSIS,
    NAMESPACE,
    demo_manifests,
    wait_for_phase,
    wait_until,
)

pytestmark = pytest.mark.slow

HOSTS = ("go-demo-7.example", "go-demo-7.go-demo-7")
"""The gateway host (the canary's VirtualService) and the in-cluster name (its Service)."""


@dataclass
class Traffic:
    results: list[LoadResult]

    def failures(self) -> dict[str, object]:
        failed: dict[str, object] = {}
        for host, result in zip(HOSTS, self.results, strict=True):
            other = {s: n for s, n in result.statuses.items() if s != 200}
            if other or result.errors or result.dropped:
                failed[host] = {"statuses": other, "errors": dict(result.errors)}
        return failed


@asynccontextmanager
async def traffic(runtime: LocalRuntime, rate: float = 40) -> AsyncIterator[Traffic]:
    """Requests to both names through the gateway while the block runs."""
    loads = [
        LoadGenerator(
            LoadPlan(
                urls=(runtime.gateway_url + "/demo/hello",),
                rate=rate,
                duration=600,
                headers={"Host": host},
                timeout=5,
            )
        )
        for host in HOSTS
    ]
    running = [asyncio.create_task(load.run()) for load in loads]
    seen = Traffic([])
    try:
        yield seen
    finally:
        for load in loads:
            load.stop()
        seen.results.extend(await asyncio.gather(*running))


def weight(runtime: LocalRuntime) -> int:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    return int(((stored.status if stored else None) or {}).get("canaryWeight", 0))


def canary_text(revert: bool) -> str:
    text = canary_manifest(DEFAULT_ANALYSIS)
    if revert:
        text = text.replace(
            "progressDeadlineSeconds: 60", "progressDeadlineSeconds: 60\n  revertOnDeletion: true"
        )
    return text


def release(version: str, revert: bool, env: dict[str, str] | None = None) -> str:
    return demo_manifests(version, canary=False, env=env) + "---" + canary_text(revert)


async def initialized(runtime: LocalRuntime, revert: bool) -> None:
    await runtime.apply(release("0.0.1", revert), "v1")
    await wait_for_phase(runtime, Phase.INITIALIZED)


async def reach(runtime: LocalRuntime, phase: str, revert: bool) -> None:
    """From Initialized, bring go-demo-7's canary to `phase` (under the test's load: the
    analysis needs requests). A failed release answers slowly (200s, over the 1000 ms
    limit), so that the rollback itself fails no request."""
    if phase == "initialized":
        return
    if phase == "failed":
        await runtime.apply(release("0.0.4", revert, {"DEMO_DELAY_MS": "1500"}), "slow")
        await wait_for_phase(runtime, Phase.FAILED, within=90)
        return
    await runtime.apply(release("0.0.2", revert), "v2")
    if phase == "progressing":
        await wait_until(lambda: weight(runtime) >= 20, "traffic on the canary", within=60)
        return
    await wait_for_phase(runtime, Phase.SUCCEEDED, within=90)


async def delete_the_canary(runtime: LocalRuntime, revert: bool) -> None:
    """Delete the Canary (under the test's load) and let the load run 3 s more."""
    deleted = await runtime.delete(canary_text(revert), "canary.yaml")
    assert [str(d) for d in deleted] == ["canary/go-demo-7 deleted (namespace go-demo-7)"]
    await asyncio.sleep(3)


def assert_no_request_failed_and_the_canary_let_go(
    runtime: LocalRuntime, seen: Traffic, revert: bool
) -> None:
    assert seen.failures() == {}
    assert all(r.answered > 100 for r in seen.results), seen.results
    store = runtime.store
    owned = [o.key for o in store.objects() if o.owner]
    assert owned == []
    primary = store.get("Deployment", NAMESPACE, "go-demo-7-primary")
    if revert:
        assert primary is None
        service = store.get("Service", NAMESPACE, "go-demo-7")
        assert service is not None
        assert service.manifest["spec"]["selector"] == {"app": "go-demo-7"}  # the user's
    else:
        assert primary is not None  # what served keeps serving


DELETED_AT = [
    pytest.param(phase, revert, id=f"{phase}-{'revert' if revert else 'keep'}")
    for phase in ("initialized", "progressing", "succeeded", "failed")
    for revert in (True, False)
    if (phase, revert) != ("succeeded", False)
]
"""Every phase, with and without revertOnDeletion; a Succeeded canary deleted without it
ends the re-applying test below (the same promotion under load: run once, not twice)."""


@pytest.mark.parametrize(("phase", "revert"), DELETED_AT)
async def test_deleting_a_canary_fails_no_request(
    local_runtime: LocalRuntime, phase: str, revert: bool
) -> None:
    await initialized(local_runtime, revert)
    async with traffic(local_runtime) as seen:
        await reach(local_runtime, phase, revert)
        await delete_the_canary(local_runtime, revert)
    assert_no_request_failed_and_the_canary_let_go(local_runtime, seen, revert)


async def test_re_applying_unchanged_manifests_mid_analysis_changes_nothing_that_serves(
    local_runtime: LocalRuntime,
) -> None:
    """Then the Canary, Succeeded, is deleted without revertOnDeletion (the `succeeded-keep`
    case of the test above)."""
    await initialized(local_runtime, revert=False)
    async with traffic(local_runtime) as seen:
        await reach(local_runtime, "progressing", revert=False)
        applied = await local_runtime.apply(release("0.0.2", False), "v2 again")
        assert {a.action for a in applied} == {"unchanged"}, applied
        await asyncio.sleep(3)
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
        await delete_the_canary(local_runtime, revert=False)
    assert_no_request_failed_and_the_canary_let_go(local_runtime, seen, revert=False)
