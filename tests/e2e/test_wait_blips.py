"""`coalmine wait` rides through blips: a restarting `coalmine up`, an API server failing.

- Local: the wait runs while `coalmine up` stops and a new one starts on the same state
  directory (a new port and token): it follows the new one and answers the verdict.
- Kubernetes: the wait runs against the API emulator with half of the calls failing
  (500, 409, timeouts); it answers the verdict all the same.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.canary import Phase
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.local.runtime import LocalRuntime
from tests.e2e.test_local_mode import initialized, ship
from tests.fixtures.cli import invoke, wait_lines
from tests.fixtures.local import (
    runtime_settings,
    steady_load,
    wait_until,
    weight,
)
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, install_crds
from tests.kube_emulator import KubeEmulator

pytestmark = pytest.mark.slow


async def test_wait_follows_a_restarted_up_to_the_verdict(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path / "state")
    state = ["--state-dir", str(settings.state_dir), "-n", "go-demo-7"]
    first = LocalRuntime(settings)
    await first.start()
    try:
        await initialized(first)
        async with steady_load(first):
            await ship(first, "0.0.2")
            waiting = asyncio.create_task(
                asyncio.to_thread(
                    invoke, "wait", "go-demo-7", *state, "--timeout", "120s", "-o", "json"
                )
            )
            await wait_until(lambda: weight(first) >= 20, "weight 20")
    finally:
        await first.stop()
    await asyncio.sleep(3)  # nobody serves the state directory for a while
    assert not waiting.done(), "the wait gave up while the runtime was down"
    second = LocalRuntime(settings)
    await second.start()
    try:
        async with steady_load(second):
            result = await asyncio.wait_for(waiting, 150)
        stored = second.store.get("Canary", "go-demo-7", "go-demo-7")
        assert stored is not None
        assert (stored.status or {})["phase"] == Phase.SUCCEEDED
    finally:
        await second.stop()
    assert result.exit_code == 0, result.stdout
    assert wait_lines(result.stdout)[-1]["outcome"] == "promoted"


async def test_wait_rides_through_a_failing_api_server(
    kube_emulator: KubeEmulator, kubeconfig: Path
) -> None:
    install_crds(kube_emulator)
    target = create(kube_emulator, deployment())
    create(kube_emulator, canary())
    revision = pod_template_revision(target["spec"]["template"])
    status: dict[str, Any] = {
        "phase": "Progressing",
        "lastAppliedSpec": revision,
        "canaryWeight": 20,
    }
    kube_emulator.set_status("coalmine.dev/v1beta1", "canaries", "podinfo", status, NAMESPACE)
    kube_emulator.faults.configure(rate=0.5, kinds=("error", "conflict", "timeout"), seed=3)
    kube_emulator.faults.hang_s = 0.3
    args = ["--kubeconfig", str(kubeconfig), "-n", NAMESPACE, "--timeout", "60s", "-o", "json"]
    waiting = asyncio.create_task(asyncio.to_thread(invoke, "wait", "podinfo", *args))
    await asyncio.sleep(4)
    assert not waiting.done(), "the wait gave up on a failing API server"
    done = {**status, "phase": "Succeeded", "lastPromotedSpec": revision}
    kube_emulator.set_status("coalmine.dev/v1beta1", "canaries", "podinfo", done, NAMESPACE)
    result = await asyncio.wait_for(waiting, 90)
    kube_emulator.faults.configure(rate=0.0, seed=0)
    assert result.exit_code == 0, result.stdout
    assert wait_lines(result.stdout)[-1]["outcome"] == "promoted"
    faulted = [line for line in kube_emulator.faults.log if "/canaries/podinfo" in line]
    assert faulted, kube_emulator.faults.log
