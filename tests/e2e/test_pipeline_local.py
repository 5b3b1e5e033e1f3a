"""The pipeline commands against the real local runtime: deploy, wait, promote, abort,
pause, resume, status, doctor. Real Envoy, real processes, SQLite; the CLI runs in a
thread (as a user's shell would, next to `coalmine up`) while the runtime serves here.

Canaries tick every 2 s with 4 s metric windows (tests/fixtures/local.py), so a whole
promotion takes about 20 s; traffic comes from coalmine's own load generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.canary import Phase
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.cli import coalmine, invoke, wait_lines
from tests.fixtures.local import (
    NAMESPACE,
    demo_manifests,
    phase_of,
    runtime_settings,
    wait_for_phase,
    wait_until,
)

pytestmark = pytest.mark.slow

HOST = {"Host": "go-demo-7.example"}
NS = ("-n", NAMESPACE)


@asynccontextmanager
async def steady_load(runtime: LocalRuntime, rate: float = 30) -> AsyncIterator[None]:
    """Requests through the gateway while the block runs (the canary's metrics need them)."""
    plan = LoadPlan(
        urls=(runtime.gateway_url + "/demo/hello",), rate=rate, duration=600, headers=HOST
    )
    load = LoadGenerator(plan)
    running = asyncio.create_task(load.run())
    try:
        yield
    finally:
        load.stop()
        await running


def status_of(runtime: LocalRuntime) -> dict[str, Any]:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    return dict((stored.status if stored else None) or {})


def revision_of(runtime: LocalRuntime) -> str:
    return runtime.revision(NAMESPACE, "go-demo-7")


def messages(runtime: LocalRuntime) -> list[str]:
    return [e.message for e in runtime.store.events(NAMESPACE, "go-demo-7")]


async def test_wait_answers_with_the_verdict_on_exactly_the_revision_asked(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(demo_manifests("0.0.1"), "test")
    first = await coalmine(local_runtime, "wait", "go-demo-7", *NS, "--timeout", "60s")
    assert first.exit_code == 0, first.output
    assert "is the first one" in first.output

    async with steady_load(local_runtime):
        shipped = await coalmine(
            local_runtime,
            "deploy", "go-demo-7", *NS, "--set-env", "VERSION=0.0.2",
            "--wait", "--timeout", "90s", "-o", "json",
        )  # fmt: skip
    assert shipped.exit_code == 0, shipped.output
    lines = wait_lines(shipped.stdout)
    promoted = revision_of(local_runtime)
    assert lines[-1]["outcome"] == "promoted"
    assert lines[-1]["revision"] == promoted
    weights = [d["canaryWeight"] for d in lines if d["type"] == "progress" and d["analysing"]]
    assert {20, 40, 60} <= set(weights), weights
    assert any(d["type"] == "event" and "canary weight 60" in d["message"] for d in lines)
    assert "revision" in shipped.stderr and "->" in shipped.stderr

    # Paused right after a success: a new revision cannot start, so the canary keeps
    # showing the Succeeded of 0.0.2. That must never end a wait for 0.0.3.
    paused = await coalmine(local_runtime, "pause", "go-demo-7", *NS, "--by", "alice")
    assert paused.exit_code == 0, paused.output
    assert paused.output.startswith("go-demo-7 paused by alice: coalmine takes no action")
    moved = await coalmine(local_runtime, "deploy", "go-demo-7", *NS, "--set-env", "VERSION=0.0.3")
    assert moved.exit_code == 0, moved.output
    new = revision_of(local_runtime)
    assert new != promoted
    timed_out = await coalmine(
        local_runtime, "wait", "go-demo-7", *NS, "--timeout", "4s", "-o", "json"
    )
    assert timed_out.exit_code == 2, timed_out.output
    stale = wait_lines(timed_out.stdout)
    assert stale[-1]["outcome"] == "timed-out"
    assert stale[-1]["revision"] == new
    assert {(d["phase"], d["analysing"]) for d in stale if d["type"] == "progress"} == {
        ("Succeeded", False)
    }

    async with steady_load(local_runtime):
        waiting = asyncio.create_task(
            coalmine(local_runtime, "wait", "go-demo-7", *NS, "--timeout", "90s", "-o", "json")
        )
        await asyncio.sleep(3)
        assert not waiting.done(), "the stale Succeeded ended the wait"
        resumed = await coalmine(local_runtime, "resume", "go-demo-7", *NS, "--by", "alice")
        assert resumed.exit_code == 0, resumed.output
        result = await waiting
    assert result.exit_code == 0, result.output
    lines = wait_lines(result.stdout)
    assert lines[-1]["revision"] == new
    assert lines[-1]["outcome"] == "promoted"
    assert next((d["phase"], d["analysing"]) for d in lines if d["type"] == "progress") == (
        "Succeeded",
        False,
    )
    assert "go-demo-7.go-demo-7 paused by alice: no action until it is resumed" in messages(
        local_runtime
    )
    assert "go-demo-7.go-demo-7 resumed by alice" in messages(local_runtime)


async def test_a_release_failing_its_checks_makes_deploy_wait_exit_1(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(demo_manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with steady_load(local_runtime):
        failed = await coalmine(
            local_runtime,
            "deploy", "go-demo-7", *NS, "--set-env", "VERSION=0.0.4",
            "--set-env", "DEMO_DELAY_MS=1500", "--wait", "--timeout", "60s",
        )  # fmt: skip
    assert failed.exit_code == 1, failed.output
    last = failed.stdout.splitlines()[-1]
    assert last.startswith("go-demo-7: rolled-back (exit 1): revision ")
    assert "request-duration" in last and "not <= 1000" in last
    assert phase_of(local_runtime) == Phase.FAILED


async def test_promote_abort_and_the_phases_where_they_are_refused(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(demo_manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    refused = await coalmine(local_runtime, "promote", "go-demo-7", *NS)
    assert refused.exit_code == 1
    assert str(refused.exception) == (
        "cannot promote go-demo-7: it is Initialized; promote works while the canary is"
        " Progressing or WaitingPromotion"
    )

    async with steady_load(local_runtime):
        await local_runtime.apply(demo_manifests("0.0.2"), "test")
        await wait_until(lambda: status_of(local_runtime).get("canaryWeight", 0) == 20, "20%")
        promoted = await coalmine(local_runtime, "promote", "go-demo-7", *NS, "--by", "bob")
        assert promoted.exit_code == 0, promoted.output
        assert promoted.output.strip().endswith(
            "the next tick copies revision"
            f" {revision_of(local_runtime)[:8]} (VERSION=0.0.2) to go-demo-7-primary"
        )
        await wait_for_phase(local_runtime, Phase.PROMOTING, within=10)
        verdict = await coalmine(local_runtime, "wait", "go-demo-7", *NS, "--timeout", "60s")
        assert verdict.exit_code == 0, verdict.output
        assert (
            "Promotion requested by bob: skipping the rest of the analysis of go-demo-7.go-demo-7"
            in messages(local_runtime)
        )
        assert "Advance go-demo-7.go-demo-7 canary weight 60" not in messages(local_runtime)

        await local_runtime.apply(demo_manifests("0.0.3"), "test")
        await wait_for_phase(local_runtime, Phase.PROGRESSING)
        aborted = await coalmine(local_runtime, "abort", "go-demo-7", *NS, "--by", "bob")
        assert aborted.exit_code == 0, aborted.output
        verdict = await coalmine(local_runtime, "wait", "go-demo-7", *NS, "--timeout", "30s")
    assert verdict.exit_code == 1, verdict.output
    assert phase_of(local_runtime) == Phase.FAILED
    assert "Rolling back go-demo-7.go-demo-7 aborted by bob" in messages(local_runtime)
    assert "Rollback of go-demo-7.go-demo-7 requested by bob" in messages(local_runtime)
    again = await coalmine(local_runtime, "abort", "go-demo-7", *NS)
    assert again.exit_code == 1
    assert "it is Failed" in str(again.exception)
    not_paused = await coalmine(local_runtime, "resume", "go-demo-7", *NS)
    assert not_paused.exit_code == 1
    assert str(not_paused.exception) == "go-demo-7 is not paused (it is Failed)"


async def test_a_paused_canary_stays_still_and_carries_on_when_resumed(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(demo_manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with steady_load(local_runtime):
        await local_runtime.apply(demo_manifests("0.0.2"), "test")
        await wait_until(lambda: status_of(local_runtime).get("canaryWeight", 0) >= 20, "20%")
        paused = await coalmine(local_runtime, "pause", "go-demo-7", *NS)
        assert paused.exit_code == 0, paused.output
        before, events = status_of(local_runtime), len(messages(local_runtime))
        await asyncio.sleep(6)  # three intervals
        assert status_of(local_runtime) == before
        assert messages(local_runtime)[events:] == []
        shown = await coalmine(local_runtime, "status", "go-demo-7", *NS)
        assert "Paused:       yes; resume with: coalmine resume go-demo-7" in shown.output
        twice = await coalmine(local_runtime, "pause", "go-demo-7", *NS)
        assert twice.exit_code == 1
        assert str(twice.exception) == "go-demo-7 is already paused"
        resumed = await coalmine(local_runtime, "resume", "go-demo-7", *NS)
        assert resumed.exit_code == 0, resumed.output
        await wait_until(
            lambda: status_of(local_runtime).get("canaryWeight", 0) > before["canaryWeight"],
            "the weight moving again",
        )
    table = await coalmine(local_runtime, "status", "-A")
    header, row = table.output.splitlines()
    assert header.split() == [
        "NAMESPACE", "NAME", "PHASE", "WEIGHT", "FAILED", "LAST", "TRANSITION", "REVISION"
    ]  # fmt: skip
    assert row.split()[:3] == [NAMESPACE, "go-demo-7", "Progressing"]


async def test_a_canary_deleted_while_waiting_ends_the_wait_with_3(
    local_runtime: LocalRuntime,
) -> None:
    text = demo_manifests("0.0.1")
    await local_runtime.apply(text, "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    await coalmine(local_runtime, "pause", "go-demo-7", *NS)
    await local_runtime.apply(demo_manifests("0.0.2"), "test")
    waiting = asyncio.create_task(
        coalmine(local_runtime, "wait", "go-demo-7", *NS, "--timeout", "60s", "-o", "json")
    )
    await asyncio.sleep(2)
    canary_only = text[text.index("apiVersion: coalmine.dev") :]
    await local_runtime.delete(canary_only, "test")
    result = await waiting
    assert result.exit_code == 3, result.output
    assert wait_lines(result.stdout)[-1]["reason"] == ("canary go-demo-7 in go-demo-7 was deleted")


def test_wait_without_a_runtime_or_a_cluster_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = invoke("wait", "go-demo-7", "--state-dir", str(tmp_path), "-o", "json")
    assert result.exit_code == 3
    reason = wait_lines(result.stdout)[-1]["reason"]
    assert reason.startswith(f"no coalmine up is running for state directory {tmp_path}")
    assert "coalmine up --state-dir" in reason and "--kubeconfig PATH" in reason


async def test_doctor_says_what_is_missing_locally(
    local_runtime: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = await coalmine(local_runtime, "doctor")
    assert healthy.exit_code == 0, healthy.output
    lines = healthy.output.splitlines()
    assert lines[0].startswith("OK    coalmine up running: pid ")
    assert lines[1].startswith("OK    Envoy ready: http://127.0.0.1:")
    assert lines[2].startswith("OK    state directory writable: ")

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    nothing = await asyncio.to_thread(invoke, "doctor", "--state-dir", str(tmp_path / "none"))
    assert nothing.exit_code == 1
    assert "FAIL  coalmine up running: no coalmine up is running for state directory" in (
        nothing.output
    )
    assert f"      fix: start it: coalmine up --state-dir {tmp_path / 'none'}" in nothing.output


async def test_doctor_checks_the_prometheus_of_up(tmp_path: Path) -> None:
    base = runtime_settings(tmp_path / "state")
    runtime = LocalRuntime(replace(base, prometheus=True))
    await runtime.start()
    try:
        result = await coalmine(runtime, "doctor")
    finally:
        await runtime.stop()
    assert result.exit_code == 0, result.output
    assert runtime.prometheus is not None
    assert f"OK    Prometheus of coalmine up ready: {runtime.prometheus.url}" in result.output
