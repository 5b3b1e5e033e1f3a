"""`status.trackedConfigs` written by the operator as Flagger writes it.

The real adapters (`kube.runtime.wiring.wire`) and the daemons against the API emulator, one tick
at a time: the map is written with `lastAppliedSpec` (at initialization, when an analysis
starts), keyed `configmap/<name>` and `secret/<name>`, each value Flagger's checksum of
the object's `data` (`pkg/canary/config_tracker.go`: the first 8 bytes of SHA-256 over
Go's `json.Marshal`), so that Flagger's `HasConfigChanged` would see no change.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import CONFIG_MAPS
from coalmine.kube.runtime.daemons import AlwaysLeading, CanaryDaemons, CanaryRef
from coalmine.kube.runtime.settings import AnalysisSettings, ControllerSettings, ScopeSettings
from coalmine.kube.runtime.wiring import Wiring, wire
from coalmine.testing import FakeMeasurer
from tests.fixtures.daemons import SteppingClock
from tests.fixtures.operator import NAMESPACE, RolloutController, canary, create, deployment
from tests.kube.adapters.test_configs import CM, SECRET, config_map, reading, secret
from tests.kube.runtime.test_daemons import ref_of
from tests.kube_emulator import KubeEmulator


def flaggers_checksum(go_json: str) -> str:
    """What Flagger's `checksum()` gives for an object whose `data` Go marshals to this."""
    return hashlib.sha256(go_json.encode()).hexdigest()[:16]


HELLO = flaggers_checksum('{"greeting":"hello \\u003cyou\\u003e"}')
BONJOUR = flaggers_checksum('{"greeting":"bonjour"}')
DB = flaggers_checksum('{"password":"aHVudGVyMg=="}')  # base64 of "hunter2", as Go writes bytes


@dataclass
class Operator:
    emulator: KubeEmulator
    loops: CanaryDaemons
    ref: CanaryRef
    rollouts: RolloutController

    def status(self) -> dict[str, Any]:
        stored = self.emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
        assert stored is not None
        return dict(stored.get("status") or {})

    async def until(self, done: Callable[[dict[str, Any]], bool], ticks: int = 12) -> None:
        for _ in range(ticks):
            if done(self.status()):
                return
            self.rollouts.settle()
            await self.loops.tick(self.ref)
        assert done(self.status()), f"not reached in {ticks} ticks: {self.status()}"


def run(kube_client: KubeClient, kube_emulator: KubeEmulator) -> tuple[Operator, Wiring]:
    """The operator's adapters and daemons on the Canary and Deployment already created."""
    analysis = AnalysisSettings(min_interval=timedelta(seconds=1))
    scope = ScopeSettings(namespaces=(NAMESPACE,))
    settings = ControllerSettings(analysis=analysis, scope=scope, identity="test")
    passing = FakeMeasurer({"request-success-rate": 100.0, "request-duration": 50.0})
    wiring: Wiring = wire(kube_client, settings, CollectorRegistry(), measurer=passing)
    loops = CanaryDaemons(
        kube_client,
        wiring.ports,
        events=wiring.events,
        reverter=wiring.reverter,
        disowner=wiring.disowner,
        settings=analysis,
        leadership=AlwaysLeading(),
        clock=SteppingClock(),
    )
    rollouts = RolloutController(kube_emulator)
    return Operator(kube_emulator, loops, ref_of(kube_emulator), rollouts), wiring


@pytest.fixture
async def operator(kube_client: KubeClient, kube_emulator: KubeEmulator) -> AsyncIterator[Operator]:
    create(kube_emulator, config_map("settings", {"greeting": "hello <you>"}))
    create(kube_emulator, secret("db", "hunter2"))
    create(kube_emulator, reading(deployment(), (CM, "settings"), (SECRET, "db")))
    create(kube_emulator, canary())
    operator, wiring = run(kube_client, kube_emulator)
    try:
        yield operator
    finally:
        await wiring.close()


def phase_is(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status.get("phase") == phase


async def test_tracked_configs_are_written_at_initialization_and_with_a_new_analysis(
    operator: Operator, kube_client: KubeClient
) -> None:
    await operator.until(phase_is("Initialized"))
    initialized = operator.status()
    assert initialized["trackedConfigs"] == {"configmap/settings": HELLO, "secret/db": DB}

    await kube_client.merge_patch(
        CONFIG_MAPS, "settings", NAMESPACE, {"data": {"greeting": "bonjour"}}
    )
    await operator.until(phase_is("Progressing"))
    progressing = operator.status()
    # written with the revision under analysis, as Flagger's SyncStatus does when it
    # starts one (else its HasConfigChanged would start it again at every tick)
    assert progressing["trackedConfigs"] == {"configmap/settings": BONJOUR, "secret/db": DB}
    assert progressing["lastAppliedSpec"] != initialized["lastAppliedSpec"]

    await operator.until(phase_is("Succeeded"), ticks=20)
    promoted = operator.status()
    assert promoted["trackedConfigs"] == {"configmap/settings": BONJOUR, "secret/db": DB}
    assert promoted["lastPromotedSpec"] == progressing["lastAppliedSpec"]
    copy_ = operator.emulator.get("v1", "configmaps", "settings-primary", NAMESPACE)
    assert copy_ is not None and copy_["data"] == {"greeting": "bonjour"}


async def test_a_target_reading_no_config_tracks_an_empty_map(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    """Flagger writes `{}` (GetConfigRefs' empty map), not nothing."""
    create(kube_emulator, deployment())
    create(kube_emulator, canary())
    operator, wiring = run(kube_client, kube_emulator)
    try:
        await operator.until(phase_is("Initialized"))
    finally:
        await wiring.close()
    assert operator.status()["trackedConfigs"] == {}
