"""Old traffic and restarts never decide a release (local mode, real Envoy, real processes).

- A good release shipped right after a rolled-back one is judged only on its own traffic:
  the rolled-back canary's 5xx, still inside the metric's interval, are not charged to it.
- A good release shipped right after a slow one was rolled back is not charged the slow
  answers the old canary replicas were still serving at the rollback: Envoy counts them
  when they complete, after the new analysis began, so the new revision's checks wait
  until those replicas are drained (see `StatsCollector`'s fences); with the embedded
  Envoy stats and with Prometheus (`coalmine up --prometheus`).
- A restarted `coalmine up` has no stats from before it started: checks wait for a window
  of data instead of failing.

All run with `threshold: 1`, so a single failed check would roll the good release back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coalmine.api.canary import Phase
from coalmine.local.envoy import cluster_name
from coalmine.local.runtime import LocalRuntime
from coalmine.local.store import CheckRecord
from tests.e2e.test_local_mode import initialized, ship
from tests.fixtures.local import (
    FAST_PROCESSES,
    NAMESPACE,
    runtime_settings,
    steady_load,
    wait_for_phase,
    wait_until,
    weight,
)

pytestmark = pytest.mark.slow

ANALYSIS = """    interval: 2s
    threshold: 1
    stepWeight: 20
    maxWeight: 40
    metrics:
      - {name: request-success-rate, interval: 10s, thresholdRange: {min: 99}}"""
GOOD = {"DEMO_ERROR_RATE": "0"}
BAD = {"DEMO_ERROR_RATE": "1"}


def messages(runtime: LocalRuntime) -> list[str]:
    return [e.message for e in runtime.store.events(NAMESPACE, "go-demo-7")]


def status(runtime: LocalRuntime) -> dict[str, object]:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert stored is not None
    return dict(stored.status or {})


async def test_a_good_release_right_after_a_rolled_back_one_fails_no_check(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime, env=GOOD, analysis=ANALYSIS)
    async with steady_load(local_runtime, "/demo/random-error", rate=50):
        await ship(local_runtime, "0.0.3", env=BAD, analysis=ANALYSIS)
        await wait_for_phase(local_runtime, Phase.FAILED, within=60)
        rolled_back = len(messages(local_runtime))
        await ship(local_runtime, "0.0.4", env=GOOD, analysis=ANALYSIS)
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
    after = messages(local_runtime)[rolled_back:]
    assert status(local_runtime)["failedChecks"] == 0, after
    halts = [m for m in after if m.startswith("Halt advancement go-demo-7.go-demo-7 request")]
    assert all("waiting for" in m for m in halts), halts
    assert any("request-success-rate waiting for 6s of data since" in m for m in after), after
    checks = [c for c in local_runtime.store.checks(NAMESPACE, "go-demo-7") if c.value is not None]
    assert checks[-1].value == 100.0


SLOW_THEN_GOOD = """    interval: 1s
    threshold: 2
    stepWeight: 50
    maxWeight: 50
    metrics:
      - {name: request-duration, interval: 3s, thresholdRange: {max: 1000}}"""
SLOW = {"DEMO_DELAY_MS": "3000"}
"""Every answer of the slow release takes 3 s (the guide's longest delay): all of them
still in flight at the rollback end after the next analysis began."""


@pytest.fixture(params=["envoy-stats", "prometheus"])
async def patient_runtime(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[LocalRuntime]:
    """Replicas get 5 s between SIGTERM and SIGKILL: the slow release's answers in flight
    at its rollback are finished, not cut short (as with the guide's defaults). Checks
    read the embedded Envoy stats, or Prometheus (`coalmine up --prometheus`)."""
    processes = replace(FAST_PROCESSES, termination_grace_seconds=5.0)
    settings = replace(
        runtime_settings(tmp_path / "state"),
        process_settings=processes,
        prometheus=request.param == "prometheus",
    )
    runtime = LocalRuntime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_slow_answers_in_flight_at_a_rollback_are_not_the_next_releases(
    patient_runtime: LocalRuntime,
) -> None:
    runtime = patient_runtime
    await initialized(runtime, env=GOOD, analysis=SLOW_THEN_GOOD)
    async with steady_load(runtime, rate=40):
        await ship(runtime, "0.0.4", env=SLOW, analysis=SLOW_THEN_GOOD)
        await wait_for_phase(runtime, Phase.FAILED, within=30)
        await ship(runtime, "0.0.5", env=GOOD, analysis=SLOW_THEN_GOOD)
        revision = str(status(runtime)["lastAppliedSpec"])
        began = datetime.fromisoformat(str(status(runtime)["analysisStartTime"]))
        await wait_until(
            lambda: bool(judged(runtime, revision)),
            "0.0.5's first check",
            within=30,
            explain=lambda: "\n".join(messages(runtime)),
        )
        # What Envoy counted on the canary's cluster since 0.0.5's analysis began, read
        # without the fence: 0.0.4's 3 s answers are there, so the check below could fail.
        since = (datetime.now(UTC) - began).total_seconds()
        raw = runtime.envoy.metrics.window(cluster_name(NAMESPACE, "go-demo-7-canary"), since)
    assert (raw.max_ms.value or 0) >= 3000, raw
    first = judged(runtime, revision)[0]
    assert first.passed, first
    assert first.value is not None and first.value < 1000, first
    drained = "(the first Envoy stats after the replicas of an earlier revision behind cluster"
    assert any(drained in m for m in messages(runtime)), messages(runtime)


def judged(runtime: LocalRuntime, revision: str) -> list[CheckRecord]:
    """The checks of `revision` that measured a value (waiting ones did not)."""
    checks = runtime.store.checks(NAMESPACE, "go-demo-7")
    return [c for c in checks if c.revision == revision and c.value is not None]


async def test_a_restarted_up_waits_for_data_instead_of_failing_a_check(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path / "state")
    first = LocalRuntime(settings)
    await first.start()
    try:
        await initialized(first, env=GOOD, analysis=ANALYSIS)
        async with steady_load(first):
            await ship(first, "0.0.2", env=GOOD, analysis=ANALYSIS)
            await wait_until(lambda: weight(first) >= 20, "weight 20")
    finally:
        await first.stop()
    second = LocalRuntime(settings)
    await second.start()
    try:
        restarted = len(messages(second))
        async with steady_load(second):
            await wait_for_phase(second, Phase.SUCCEEDED, within=90)
        after = messages(second)[restarted:]
        assert status(second)["failedChecks"] == 0, after
        assert any("the Envoy stats collector started then" in m for m in after), after
    finally:
        await second.stop()
