"""The revert on deletion moves traffic to the primary before anything else changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coalmine.api.canary import Canary, CanaryStatus, Phase
from coalmine.engine.observations import Routes, WorkloadState
from coalmine.kube.adapters.revert import Reverter
from coalmine.testing import RecordingNotifier
from tests.engine.builders import canary

READY = WorkloadState(revision="r1", replicas=2, updated=2, available=2)


class Recorder:
    """Stands in for the workload, the router and the store; records every call in order."""

    def __init__(self, primary: WorkloadState | None) -> None:
        self.calls: list[str] = []
        self.primary = primary

    async def observe_primary(self, canary: Canary) -> WorkloadState | None:
        return self.primary

    async def target(self, canary: Canary) -> dict[str, Any]:
        return {"spec": {"selector": {"matchLabels": {"app": "go-demo-7"}}}}

    async def scale_canary(self, canary: Canary, *, up: bool) -> None:
        self.calls.append(f"scale target up={up}")

    async def observe_target(self, canary: Canary) -> WorkloadState:
        return READY

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        self.calls.append(f"routes {routes.primary}/{routes.canary}")

    async def revert(self, canary: Canary, labels: dict[str, str]) -> dict[str, str]:
        self.calls.append(f"restore routing to {labels}")
        return {"virtualservice go-demo-7": "restored"}

    async def delete_primary(self, canary: Canary) -> None:
        self.calls.append("delete primary")

    async def write_status(
        self, canary: Canary, status: CanaryStatus, *, supersede: bool = False
    ) -> Canary:
        return canary.model_copy(update={"status": status})


def reverter(recorder: Recorder) -> Reverter:
    fake: Any = recorder
    return Reverter(fake, fake, fake, RecordingNotifier(), poll_interval=0.01)


def progressing() -> Canary:
    mid = canary()
    status = mid.status.model_copy(update={"phase": Phase.PROGRESSING, "canary_weight": 40})
    return mid.model_copy(update={"status": status})


async def test_mid_analysis_all_traffic_goes_to_the_primary_first() -> None:
    recorder = Recorder(primary=READY)
    await reverter(recorder).revert(progressing(), datetime.now(UTC))
    assert recorder.calls == [
        "routes 100/0",
        "scale target up=True",
        "restore routing to {'app': 'go-demo-7'}",
        "delete primary",
    ]


async def test_without_a_running_primary_the_routes_are_left_to_the_restore() -> None:
    recorder = Recorder(primary=None)
    await reverter(recorder).revert(progressing(), datetime.now(UTC))
    assert recorder.calls[0] == "scale target up=True"
