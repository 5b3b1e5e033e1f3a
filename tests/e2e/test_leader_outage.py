"""An API outage longer than the renew deadline: the leader steps down and leads again, alive.

The real controller runs in-process with `--leader-elect` (a 3 s Lease: renew deadline
2 s), against the emulator. The outage is the emulator's fault injection answering 500
to every resource request (discovery and health stay up, as they are cached by
clients). It lasts past the renew deadline and several lease periods, the scaled-down
twin of a 20 s outage with the default 15 s Lease, which made the controller exit.
"""

from __future__ import annotations

import pytest

from coalmine.kube.adapters.resources import LEASES
from coalmine.kube.runtime.settings import LeaderSettings
from tests.fixtures.flagger import messages_once
from tests.fixtures.operator import canary, deployment
from tests.fixtures.world import NEW_IMAGE, StartOperator, World, eventually_async
from tests.kube_emulator import KubeEmulator

LEASE = LeaderSettings.scaled(enabled=True, lease_duration=3.0)


@pytest.mark.slow
async def test_a_leader_cut_off_by_an_outage_steps_down_and_leads_again_without_exiting(
    world: World, kube_emulator: KubeEmulator, start_operator: StartOperator
) -> None:
    await world.create(deployment())
    await world.create(canary())
    operator = await start_operator(leader=LEASE)
    controller = operator.controller
    await world.wait_phase("Initialized")
    elector = controller.elector
    assert elector is not None

    kube_emulator.faults.configure(rate=1.0, kinds=("error",), seed=16)  # the outage
    await eventually_async(_true(lambda: controller.step_downs == 1), deadline=30)
    assert not elector.leading, "stepped down: its daemons act no more"
    ticks = controller.daemons.ticks if controller.daemons else 0
    failed = kube_emulator.faults.injected["error"]
    await eventually_async(  # the outage goes on for a few more lease periods
        _true(lambda: kube_emulator.faults.injected["error"] > failed + 20), deadline=30
    )
    assert controller.daemons is not None and controller.daemons.ticks == ticks
    assert not operator.running.done(), "the controller did not exit"
    kube_emulator.faults.configure(rate=0.0, seed=16)  # the API is back

    await eventually_async(_true(lambda: elector.leading), deadline=30)
    lease = await world.get(LEASES, LEASE.lease_name)
    assert lease is None or lease["spec"]["holderIdentity"] == controller.settings.identity
    await world.ship("podinfo", NEW_IMAGE)
    await world.wait_phase("Succeeded", deadline=90)  # it acts again: a whole analysis
    assert controller.step_downs == 1 and not operator.running.done()
    said = await messages_once(world, "Promotion completed!")  # its Events written again
    assert f"Advance podinfo.{world.namespace} canary weight 40" in said


def _true(check: object) -> object:
    async def checked() -> bool:
        return bool(check())  # type: ignore[operator]

    return checked
