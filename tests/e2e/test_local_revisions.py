"""Old traffic and restarts never decide a release (local mode, real Envoy, real processes).

- A good release shipped right after a rolled-back one is judged only on its own traffic:
  the rolled-back canary's 5xx, still inside the metric's interval, are not charged to it.
- A restarted `coalmine up` has no stats from before it started: checks wait for a window
  of data instead of failing.

Both run with `threshold: 1`, so a single failed check would roll the good release back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.api.canary import Phase
from coalmine.local.runtime import LocalRuntime
from tests.e2e.test_local_mode import initialized, ship, steady_load, weight
from tests.fixtures.local import NAMESPACE, runtime_settings, wait_for_phase, wait_until

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
