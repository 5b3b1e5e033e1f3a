"""The garbage collector in a long-running operator: start-up frozen, pauses measured.

CPython's cyclic collector stops the event loop while it scans; a full collection
walks every tracked container the process holds. At a thousand canaries that was
hundreds of thousands of dicts and lists, and the ticks waiting behind a full
collection made the tick duration's tail (BENCHMARKS.md). Two measures, for the
`coalmine controller` program only (not for a controller run inside a test process):

- `freeze_start_up()`: once started (modules, kopf, pydantic's schemas, the settings),
  everything alive is moved out of the collector's sight (`gc.freeze`, made for this:
  a long-lived process whose start-up objects live as long as it does). They are still
  freed by reference counting; only cycles among them would stay, and a collection
  just before the freeze leaves none;
- `YOUNG_COLLECTION_AFTER`: the youngest generation is collected after 10,000 new
  containers instead of CPython's 700. A tick's objects live as long as its requests
  (tens of milliseconds, a second when the API is slow); at 700 the young collections
  came every few milliseconds, so most of them survived two and reached the oldest
  generation before they died, and it is the oldest generation's growth that starts a
  full collection. A young collection scans at most those 10,000: about a millisecond;
- `FULL_COLLECTION_EVERY`: a full collection waits for 100 collections of the middle
  generation instead of CPython's 10. Its pause is the whole heap's scan (over a
  second at a thousand canaries on a loaded machine) and it came every 20 s; now every
  few minutes. The young generations, whose pauses are short, are collected as often
  as before, so most cyclic garbage goes as soon as before; a cycle that reached the
  oldest generation waits longer (memory, not correctness);
- `GcPauses`: each collection's duration by generation, in
  `coalmine_gc_pause_seconds`, so the tail a tick waits behind can be told from the
  tick's own work.

The watch cache holds objects as JSON text for the same reason (`kube.adapters.cache`).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["FULL_COLLECTION_EVERY", "YOUNG_COLLECTION_AFTER", "GcPauses", "freeze_start_up"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
YOUNG_COLLECTION_AFTER = 10_000
"""New containers (allocations less deallocations) between two young collections (CPython: 700)."""
FULL_COLLECTION_EVERY = 100
"""Collections of generation 1 between two full ones (CPython: 10)."""


def freeze_start_up() -> int:
    """Collect, freeze what is left alive, space out young and full collections; the
    number of objects frozen."""
    import kopf  # noqa: F401  # (imported when the operator starts: frozen with the rest)

    gc.collect()
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, FULL_COLLECTION_EVERY)
    return gc.get_freeze_count()


class GcPauses:
    """Times every collection (gc.callbacks) into a histogram by generation."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pauses = Histogram(
            "coalmine_gc_pause_seconds",
            "Seconds the garbage collector stopped the process, by generation collected",
            ["generation"],
            buckets=BUCKETS,
            registry=registry,
        )
        self._began = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        seconds = time.perf_counter() - self._began
        self.pauses.labels(generation=str(info.get("generation"))).observe(seconds)
