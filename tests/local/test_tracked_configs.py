"""`status.trackedConfigs` in local mode, written as on a cluster (Flagger's SyncStatus).

The engine ticks one canary through the local workload adapter and the local status
store (`StoreStatus`), on processes reported ready at the stored revision: the map is
written with `lastAppliedSpec` at initialization and when the analysis of a config
change starts, and `coalmine describe` shows it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from coalmine.api.canary import Canary
from coalmine.cli.describe import render_canary
from coalmine.demo.scenario import canary_manifest
from coalmine.engine.observations import WorkloadState
from coalmine.engine.ports import Ports
from coalmine.engine.tick import advance
from coalmine.local.canaries import StoreStatus
from coalmine.local.objects import ObjectBook
from coalmine.local.store import Store
from coalmine.local.workload import LocalWorkload, desired_replicas, target_revision
from coalmine.testing import (
    FakeHooks,
    FakeMeasurer,
    FakeRouter,
    RecordingNotifier,
    RecordingRecorder,
)
from tests.fixtures.local import DEFAULT_ANALYSIS
from tests.local.test_configs import DEPLOYMENT, UNTRACKED, config

NAMESPACE = "go-demo-7"


def flaggers_checksum(go_json: str) -> str:
    return hashlib.sha256(go_json.encode()).hexdigest()[:16]


class ReadyProcesses:
    """Every stored Deployment's replicas ready at the revision it is stored at."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def workload_state(self, namespace: str, name: str) -> WorkloadState | None:
        stored = self.store.get("Deployment", namespace, name)
        if stored is None:
            return None
        replicas = desired_replicas(stored.manifest, stored.status)
        revision = target_revision(self.store, stored.manifest)
        return WorkloadState(revision, replicas, updated=replicas, available=replicas)


async def noop() -> None:
    return None


class Runtime:
    def __init__(self, book: ObjectBook) -> None:
        self.book = book
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.ports = Ports(
            workload=LocalWorkload(book.store, ReadyProcesses(book.store), noop),
            router=FakeRouter(),
            measurer=FakeMeasurer({"request-success-rate": 100.0, "request-duration": 50.0}),
            hooks=FakeHooks(),
            notifier=RecordingNotifier(),
            recorder=RecordingRecorder(),
            store=StoreStatus(book.store),
        )

    def canary(self) -> Canary:
        model = self.book.model(self.book.get("Canary", NAMESPACE, NAMESPACE))
        assert isinstance(model, Canary)
        return model

    def status(self) -> dict[str, Any]:
        return dict(self.book.get("Canary", NAMESPACE, NAMESPACE).status or {})

    async def until(self, phase: str, ticks: int = 15) -> dict[str, Any]:
        for _ in range(ticks):
            if self.status().get("phase") == phase:
                return self.status()
            self.now += timedelta(seconds=5)
            await advance(self.canary(), self.ports, self.now)
        assert self.status().get("phase") == phase, self.status()
        return self.status()


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    book = ObjectBook(Store(tmp_path / "state.db"), min_interval=timedelta(0))
    book.apply(
        "---\n".join(
            [DEPLOYMENT, config("settings", "1"), config("creds", "a", kind="Secret"), UNTRACKED]
        )
    )
    manifest = yaml.safe_load(canary_manifest(DEFAULT_ANALYSIS))
    book.store.put("Canary", NAMESPACE, NAMESPACE, manifest, owner=None)
    return Runtime(book)


async def test_tracked_configs_are_written_at_initialization_and_with_a_new_analysis(
    runtime: Runtime,
) -> None:
    creds = flaggers_checksum('{"V":"YQ=="}')  # the Secret's data as stored: base64 of "a"
    initialized = await runtime.until("Initialized")
    assert initialized["trackedConfigs"] == {
        "configmap/settings": flaggers_checksum('{"V":"1"}'),
        "secret/creds": creds,  # "untracked" is opted out
    }

    runtime.book.apply(config("settings", "2"))
    progressing = await runtime.until("Progressing")
    changed = {"configmap/settings": flaggers_checksum('{"V":"2"}'), "secret/creds": creds}
    assert progressing["trackedConfigs"] == changed
    assert progressing["lastAppliedSpec"] != initialized["lastAppliedSpec"]

    promoted = await runtime.until("Succeeded", ticks=25)
    assert promoted["trackedConfigs"] == changed
    assert promoted["lastPromotedSpec"] == progressing["lastAppliedSpec"]
    copy = runtime.book.get("ConfigMap", NAMESPACE, "settings-primary")
    assert copy.manifest["data"] == {"V": "2"}

    stored = runtime.book.get("Canary", NAMESPACE, NAMESPACE)
    item = {"name": NAMESPACE, "namespace": NAMESPACE, "manifest": stored.manifest}
    text = render_canary({**item, "status": stored.status}, [])
    assert "Tracked configs:\n" in text
    assert f"  configmap/settings: {changed['configmap/settings']}\n" in text
