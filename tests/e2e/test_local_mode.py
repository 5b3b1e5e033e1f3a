"""Local mode end to end: `coalmine up`'s runtime with a real Envoy, real processes, SQLite.

Releases are the demo service; traffic goes through the local gateway. Canaries tick
every 2 s with 4 s metric windows, so a whole promotion takes about 20 s.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from coalmine.api.canary import Phase
from coalmine.errors import ManifestError
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import (
    NAMESPACE,
    demo_manifests,
    runtime_settings,
    steady_load,
    until_served_by,
    versions,
    wait_for_phase,
    wait_until,
    weight,
)

pytestmark = pytest.mark.slow


async def initialized(runtime: LocalRuntime, **manifest: object) -> None:
    await runtime.apply(demo_manifests("0.0.1", **manifest), "test")  # type: ignore[arg-type]
    await wait_for_phase(runtime, Phase.INITIALIZED)


async def ship(runtime: LocalRuntime, version: str, **manifest: object) -> None:
    await runtime.apply(demo_manifests(version, **manifest), "test")  # type: ignore[arg-type]
    await wait_for_phase(runtime, Phase.PROGRESSING)


SUBSETS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: blue, namespace: go-demo-7}
spec:
  replicas: 1
  selector: {matchLabels: {app: go-demo-7, release: blue}}
  template:
    metadata: {labels: {app: go-demo-7, release: blue}}
    spec:
      containers:
        - {name: app, command: [coalmine, demo-app], env: [{name: VERSION, value: blue}],
           ports: [{containerPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: green, namespace: go-demo-7}
spec:
  replicas: 1
  selector: {matchLabels: {app: go-demo-7, release: green}}
  template:
    metadata: {labels: {app: go-demo-7, release: green}}
    spec:
      containers:
        - {name: app, command: [coalmine, demo-app], env: [{name: VERSION, value: green}],
           ports: [{containerPort: 8080}]}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  host: go-demo-7
  subsets:
    - {name: blue, labels: {release: blue}}
    - {name: green, labels: {release: green}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  hosts: [go-demo-7.example]
  gateways: [go-demo-7]
  http:
    - route:
        - {destination: {host: go-demo-7, subset: blue}, weight: BLUE}
        - {destination: {host: go-demo-7, subset: green}, weight: GREEN}
"""


async def test_traffic_split_follows_the_virtual_service_weights(
    local_runtime: LocalRuntime,
) -> None:
    base = demo_manifests("unused", canary=False, replicas=0)
    await local_runtime.apply(
        base + "---" + SUBSETS.replace("BLUE", "100").replace("GREEN", "0"), "t"
    )
    await wait_until(
        lambda: all(
            local_runtime.processes.status(NAMESPACE, n).available == 1 for n in ("blue", "green")
        ),
        "both releases ready",
    )
    await until_served_by(local_runtime, "blue")
    for green in (10, 20, 50):
        split = SUBSETS.replace("BLUE", str(100 - green)).replace("GREEN", str(green))
        await local_runtime.apply(split, "weights")
        seen = await versions(local_runtime, 5000)
        share = 100 * seen["green"] / sum(seen.values())
        assert abs(share - green) <= 2, (green, seen)


async def test_a_good_release_is_promoted_under_load_without_failing_a_request(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime, rate=200, request_timeout=5) as load:
        await ship(local_runtime, "0.0.2")
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
    result = load.snapshot()
    assert result.sent > 1000
    assert result.errors == {}
    assert dict(result.statuses) == {200: result.answered}
    assert result.dropped == 0
    assert await versions(local_runtime, 50) == Counter({"0.0.2": 50})
    messages = [e.message for e in local_runtime.store.events(NAMESPACE, "go-demo-7")]
    assert "Advance go-demo-7.go-demo-7 canary weight 60" in messages


async def test_a_release_answering_500_is_rolled_back_and_then_gets_no_traffic(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    await ship(local_runtime, "0.0.3", env={"DEMO_ERROR_RATE": "1.0"})
    async with steady_load(local_runtime, "/demo/random-error", rate=50):
        await wait_for_phase(local_runtime, Phase.FAILED, within=60)
    assert await versions(local_runtime, 200) == Counter({"0.0.1": 200})
    assert local_runtime.processes.status(NAMESPACE, "go-demo-7").replicas == 0
    messages = [e.message for e in local_runtime.store.events(NAMESPACE, "go-demo-7")]
    assert any(
        m.startswith("Halt advancement go-demo-7.go-demo-7 request-success-rate") for m in messages
    )
    assert "Rolling back go-demo-7.go-demo-7 failed checks threshold reached 2" in messages


async def test_a_slow_release_is_rolled_back_on_request_duration(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime):
        await ship(local_runtime, "0.0.4", env={"DEMO_DELAY_MS": "1500"})
        await wait_for_phase(local_runtime, Phase.FAILED, within=60)
    checks = local_runtime.store.checks(NAMESPACE, "go-demo-7")
    slow = [c for c in checks if c.metric == "request-duration" and not c.passed]
    assert slow, checks
    assert slow[-1].value is not None
    assert slow[-1].value > 1000


async def test_killing_envoy_mid_canary_restores_routes_and_the_canary_completes(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime):
        await ship(local_runtime, "0.0.2")
        await wait_until(lambda: weight(local_runtime) >= 20, "traffic on the canary")
        pid = local_runtime.envoy.supervisor.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: local_runtime.envoy.supervisor.restarts >= 1, "Envoy restarted")
        await local_runtime.envoy.supervisor.wait_running(10)
        seen = await versions(local_runtime, 100)
        assert set(seen) <= {"0.0.1", "0.0.2"}, seen
        assert seen["0.0.2"] > 0, seen
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)


async def test_restarting_up_mid_canary_resumes_from_the_stored_status(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path / "state")
    first = LocalRuntime(settings)
    await first.start()
    try:
        await initialized(first)
        async with steady_load(first):
            await ship(first, "0.0.2")
            await wait_until(lambda: weight(first) >= 40, "weight 40")
    finally:
        await first.stop()
    second = LocalRuntime(settings)
    await second.start()
    try:
        status = second.store.get("Canary", NAMESPACE, "go-demo-7").status or {}
        assert status["phase"] == "Progressing"
        assert status["canaryWeight"] >= 40
        async with steady_load(second):
            await wait_for_phase(second, Phase.SUCCEEDED, within=90)
        messages = [e.message for e in second.store.events(NAMESPACE, "go-demo-7")]
        assert messages.count("Initialization done! go-demo-7.go-demo-7") == 1
        assert await versions(second, 50) == Counter({"0.0.2": 50})
    finally:
        await second.stop()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda text: text.replace("weight: 100", "weight: 90"),
            "route weights must add up to 100",
        ),
        (
            lambda text: text.replace(
                "{destination: {host: go-demo-7, subset: green}",
                "{destination: {host: nowhere, subset: green}",
            ),
            "service nowhere not found in namespace go-demo-7",
        ),
        (
            lambda text: text.replace("command: [coalmine, demo-app], ", "", 1),
            "spec.template.spec.containers[0].command: required field is missing",
        ),
    ],
)
async def test_bad_input_is_refused_and_the_running_routes_do_not_change(
    local_runtime: LocalRuntime,
    change,
    expected,  # type: ignore[no-untyped-def]
) -> None:
    good = demo_manifests("unused", canary=False, replicas=0) + "---" + SUBSETS
    good = good.replace("BLUE", "100").replace("GREEN", "0")
    await local_runtime.apply(good, "good")
    await until_served_by(local_runtime, "blue")
    before = local_runtime.envoy.current
    with pytest.raises(ManifestError) as refused:
        await local_runtime.apply(change(good), "bad")
    assert expected in str(refused.value)
    assert local_runtime.envoy.current == before
    assert await versions(local_runtime, 50) == Counter({"blue": 50})
