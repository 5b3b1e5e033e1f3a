"""RuntimeSource: the dashboard inside `coalmine up`, reading its store directly.

Going through the runtime's own HTTP API from the same event loop would block it; the
store is the same data, and the runtime's `request`/`suspend` record who asked exactly
as the API does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from coalmine.errors import CoalmineError, NotFound
from coalmine.history.build import build_history
from coalmine.history.local import store_records
from coalmine.history.model import History, WeightPoint
from coalmine.local.runtime import LocalRuntime
from coalmine.local.store import StoredObject
from coalmine.targets.asking import refusal, said
from coalmine.targets.base import Asked, CanaryView, EventView
from coalmine.web.source import SPARK_TICKS, Weights

__all__ = ["RuntimeSource"]

EVENTS_SHOWN = 1000


class RuntimeSource:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.description = _described(runtime.settings.state_dir)
        self.period = 0.25

    async def canaries(self) -> list[CanaryView]:
        return [_view(o) for o in self.runtime.store.objects("Canary")]

    async def weights(self, canaries: Sequence[CanaryView]) -> Weights:
        return {(c.namespace, c.name): self._weights(c) for c in canaries}

    def _weights(self, canary: CanaryView) -> Sequence[WeightPoint]:
        """Only the ticks where the weight moved, and the last: all a sparkline draws
        (parsing every tick's time for 200 rows was most of the overview's cost)."""
        rows = self.runtime.store.weights(canary.namespace, canary.name, limit=SPARK_TICKS)
        kept = [
            row
            for index, row in enumerate(rows)
            if index in (0, len(rows) - 1) or row[1] != rows[index - 1][1]
        ]
        return tuple(
            WeightPoint(datetime.fromisoformat(time), weight, "", 0, "") for time, weight in kept
        )

    async def history(self, namespace: str, name: str) -> History:
        store = self.runtime.store
        stored = store.get("Canary", namespace, name)
        if stored is None:
            raise NotFound(f"canary {name} not found in namespace {namespace}")
        events = [
            EventView(str(e.id), e.time, e.type, e.reason, e.message)
            for e in store.events(namespace, name, limit=EVENTS_SHOWN)
            if e.kind == "Canary"
        ]
        return build_history(_view(stored), store_records(store, namespace, name), events)

    async def ask(self, namespace: str, name: str, asked: Asked, by: str) -> str:
        stored = self.runtime.store.get("Canary", namespace, name)
        if stored is None:
            raise NotFound(f"canary {name} not found in namespace {namespace}")
        canary = _view(stored)
        refused = refusal(canary, asked)
        if refused:
            raise CoalmineError(refused)
        if asked in ("promote", "abort"):
            await self.runtime.request(
                namespace, name, "promote" if asked == "promote" else "abort", by
            )
        else:
            await self.runtime.suspend(namespace, name, asked == "pause", by)
        return said(canary, asked, by, "")

    async def version(self) -> str:
        return ".".join(str(mark) for mark in self.runtime.store.marks())


def _described(state_dir: Path) -> str:
    """ "coalmine up (.coalmine)" for a state directory under the working directory, else
    "coalmine up": the page (and its screenshots) shows no absolute path of the machine."""
    try:
        inside = state_dir.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return "coalmine up"
    return f"coalmine up ({inside})"


def _view(stored: StoredObject) -> CanaryView:
    metadata = stored.manifest.get("metadata") or {}
    return CanaryView(
        namespace=stored.namespace,
        name=stored.name,
        spec=stored.manifest.get("spec") or {},
        status=stored.status or {},
        annotations=dict(metadata.get("annotations") or {}),
        api_version=str(stored.manifest.get("apiVersion", "")),
    )
