"""The canary tasks of `coalmine up` stop when asked, whatever moment the request lands on.

The teardown hang of tests/e2e/test_local_prometheus.py (and a Ctrl-C of `coalmine up`
that never returned): in Python 3.11, `asyncio.wait_for` returns normally when the thing
it waits for completes in the same loop iteration as a cancellation, so the cancellation
is lost. The runner's loop waited for its wake-up (or Envoy's validation, inside a tick)
that way, then ticked on forever, and `stop()` awaited the task forever, with Envoy and
the replicas still running (their asyncio child-watcher threads blocked in os.waitpid).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

import pytest

from coalmine.api.canary import CanaryStatus, Phase
from coalmine.engine import loop
from coalmine.local.canaries import CanaryRunner
from tests.engine.builders import canary as build_canary


async def test_stop_ends_a_task_whose_wake_up_and_cancellation_coincide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks: list[datetime] = []
    ticked = asyncio.Event()

    async def advance(canary: Any, ports: Any, now: datetime) -> None:
        ticks.append(now)
        ticked.set()

    monkeypatch.setattr(loop, "advance", advance)
    canary = build_canary(name="web", namespace="shop")  # interval 1m, never ticked
    runner = CanaryRunner(ports=cast(Any, None), load=lambda namespace, name: canary)
    runner.sync({("shop", "web")})
    [task] = runner.tasks.values()
    async with asyncio.timeout(5):
        await ticked.wait()
    await asyncio.sleep(0.05)  # the task is back waiting for its next tick

    runner.wake("shop", "web")
    await asyncio.sleep(0)  # the wake-up completes the wait in this iteration ...
    stopping = asyncio.create_task(runner.stop())  # ... and the cancellation lands in it
    for _ in range(20):  # loop iterations, not time: a lost cancellation never ends it
        await asyncio.sleep(0)
    stopped = stopping.done()
    if not stopped:
        stopping.cancel()
        await asyncio.gather(stopping, return_exceptions=True)
    assert stopped, "stop() still waits for a task that took its cancellation for a wake-up"
    assert task.done()
    assert len(ticks) <= 2  # the first, and the one the wake-up asked for


async def test_stop_gives_up_on_a_task_that_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bounded even against a bug: the task is logged and left, never awaited forever."""
    runner = CanaryRunner(ports=cast(Any, None), load=lambda namespace, name: None)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    runner.tasks[("shop", "web")] = task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await runner.stop(timeout_s=0.2)
    assert "did not stop 0.2s after it was cancelled" in caplog.text
    release.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_every_canary_ticks_at_once_and_then_an_interval_after_each_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restarted `coalmine up` resumes every canary at once (not on the operator's
    slots), and sleeps a whole interval after each tick."""
    ticked: list[str] = []

    async def advance(canary: Any, ports: Any, now: datetime) -> None:
        ticked.append(canary.name)

    monkeypatch.setattr(loop, "advance", advance)
    new = build_canary(name="new", namespace="shop")
    resumed = build_canary(name="resumed", namespace="shop").with_status(
        CanaryStatus(phase=Phase.PROGRESSING)
    )
    stored = {"new": new, "resumed": resumed}
    runner = CanaryRunner(ports=cast(Any, None), load=lambda namespace, name: stored[name])
    runner.sync({("shop", "new"), ("shop", "resumed")})
    async with asyncio.timeout(5):
        while len(ticked) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    assert sorted(ticked) == ["new", "resumed"]
    paced = runner.loops[("shop", "resumed")]
    assert paced.pace(paced.key, 60.0, 1_800_000_000.0, 1_800_000_003.0) == 60.0
    runner.wake("shop", "resumed")  # a manual action: at once
    async with asyncio.timeout(5):
        while len(ticked) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert ticked[2] == "resumed"
    await runner.stop(timeout_s=5)
