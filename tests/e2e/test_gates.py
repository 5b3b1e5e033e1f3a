"""Each kind of gate holds and releases a canary, with the real load tester in the loop.

The engine runs against the simulation's fake Deployments, router and metrics; its
webhooks go over HTTP to a load tester served in this process, and the gates are
opened and closed as a user would, by POSTing to the load tester.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coalmine.api import Canary, Phase
from coalmine.hooks import HttpHooks
from coalmine.testing import Simulation
from tests.engine.builders import canary
from tests.fixtures.hooks import post_json, with_http_hooks

CANARY = {"name": "go-demo-7", "namespace": "test"}


async def rolling_out(c: Canary, hooks: HttpHooks) -> Simulation:
    """Release 0.0.1 initialized as the primary, then 0.0.2 deployed (not yet ticked)."""
    sim = with_http_hooks(Simulation(c), hooks)
    sim.measurer.set("request-success-rate", 100.0)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    sim.deploy("0.0.2")
    return sim


async def set_gate(loadtester: str, path: str) -> None:
    status, text = await post_json(f"{loadtester}{path}", CANARY)
    assert status == 202, text


def hooks(*webhooks: dict[str, Any], **analysis: Any) -> Canary:
    return canary({"webhooks": list(webhooks), **analysis})


def weight(sim: Simulation) -> int:
    assert sim.routes is not None
    return sim.routes.canary


async def test_confirm_rollout_waits_until_the_gate_opens(
    loadtester: str, http_hooks: HttpHooks
) -> None:
    gate = {"name": "approval", "type": "confirm-rollout", "url": f"{loadtester}/gate/check"}
    sim = await rolling_out(hooks(gate), http_hooks)
    await sim.tick()
    await sim.tick()
    assert sim.phase == Phase.WAITING
    assert sim.workload.replicas("go-demo-7") == 0  # not scaled up while waiting
    assert [a.message for a in sim.notifier.alerts][-1] == "Canary is waiting for approval."

    await set_gate(loadtester, "/gate/open")
    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert sim.workload.replicas("go-demo-7") == 1
    assert "Confirm-rollout check approval passed" in sim.notifier.messages


async def test_confirm_traffic_increase_holds_the_weight_while_closed(
    loadtester: str, http_hooks: HttpHooks
) -> None:
    gate = {
        "name": "more-traffic",
        "type": "confirm-traffic-increase",
        "url": f"{loadtester}/gate/check",
        "muteAlert": True,
    }
    sim = await rolling_out(hooks(gate), http_hooks)
    await sim.run_until_phase(Phase.PROGRESSING)
    await sim.tick()
    await sim.tick()
    assert weight(sim) == 0
    assert sim.notifier.messages[-1] == (
        "Halt go-demo-7.test advancement waiting for traffic increase approval more-traffic"
    )
    muted = "Canary traffic increase is waiting for approval."
    assert all(alert.message != muted for alert in sim.notifier.alerts)

    await set_gate(loadtester, "/gate/open")
    await sim.tick()
    assert weight(sim) == 20
    await set_gate(loadtester, "/gate/close")
    measured = len(sim.measurer.calls)
    await sim.tick()
    assert weight(sim) == 20
    assert len(sim.measurer.calls) > measured  # the checks still run while held


async def test_confirm_promotion_waits_while_checks_continue_then_promotes(
    loadtester: str, http_hooks: HttpHooks, tmp_path: Path
) -> None:
    ran = tmp_path / "post-rollout.log"
    gate = {"name": "ship-it", "type": "confirm-promotion", "url": f"{loadtester}/gate/check"}
    post = {
        "name": "notify",
        "type": "post-rollout",
        "url": f"{loadtester}/",
        "metadata": {"type": "bash", "cmd": f"echo ran >> {ran}"},
    }
    sim = await rolling_out(hooks(gate, post), http_hooks)
    await sim.run_until_phase(Phase.WAITING_PROMOTION)
    assert weight(sim) == 60

    sim.measurer.set("request-success-rate", 50.0)
    await sim.tick()
    assert (sim.phase, sim.canary.status.failed_checks) == (Phase.WAITING_PROMOTION, 1)
    sim.measurer.set("request-success-rate", 100.0)
    assert not ran.exists()

    await set_gate(loadtester, "/gate/open")
    await sim.tick()
    assert sim.phase == Phase.PROMOTING
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=5)
    assert ran.read_text() == "ran\n"


async def test_a_failing_pre_rollout_hook_counts_as_a_failed_check(
    loadtester: str, http_hooks: HttpHooks
) -> None:
    halt = {"name": "smoke", "type": "pre-rollout", "url": f"{loadtester}/gate/halt"}
    sim = await rolling_out(hooks(halt, threshold=2), http_hooks)
    await sim.run_until_phase(Phase.PROGRESSING)
    await sim.tick()
    assert (weight(sim), sim.canary.status.failed_checks) == (0, 1)
    assert sim.notifier.messages[-1] == (
        "Halt go-demo-7.test advancement pre-rollout check smoke failed HTTP 403: Forbidden"
    )
    await sim.tick()
    assert sim.phase == Phase.FAILED


async def test_a_failing_rollout_hook_halts_with_the_commands_output(
    loadtester: str, http_hooks: HttpHooks
) -> None:
    check = {
        "name": "acceptance",
        "type": "rollout",
        "url": f"{loadtester}/",
        "metadata": {"type": "bash", "cmd": "echo 'acceptance: 3 of 10 failed'; exit 1"},
    }
    sim = await rolling_out(hooks(check, threshold=3), http_hooks)
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 20)
    await sim.tick()
    assert (weight(sim), sim.canary.status.failed_checks) == (20, 1)
    assert sim.notifier.messages[-1] == (
        "Halt go-demo-7.test advancement external check acceptance failed "
        "HTTP 500: exit code 1: acceptance: 3 of 10 failed"
    )


async def test_opening_the_rollback_gate_rolls_back_then_post_rollout_runs(
    loadtester: str, http_hooks: HttpHooks, tmp_path: Path
) -> None:
    ran = tmp_path / "post-rollout.log"
    rollback = {"name": "abort", "type": "rollback", "url": f"{loadtester}/rollback/check"}
    post = {
        "name": "notify",
        "type": "post-rollout",
        "url": f"{loadtester}/",
        "metadata": {"type": "bash", "cmd": f"echo ran >> {ran}"},
    }
    sim = await rolling_out(hooks(rollback, post), http_hooks)
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 40)

    await set_gate(loadtester, "/rollback/open")
    await sim.tick()
    assert sim.phase == Phase.FAILED
    assert weight(sim) == 0
    assert "Rolling back go-demo-7.test manual webhook invoked" in sim.notifier.messages
    assert ran.read_text() == "ran\n"
