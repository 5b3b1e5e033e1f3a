"""The garbage collector's pauses are counted by generation; start-up is frozen out of scans."""

from __future__ import annotations

import gc
import weakref

from prometheus_client import CollectorRegistry

from coalmine.kube.runtime.garbage import (
    FULL_COLLECTION_EVERY,
    YOUNG_COLLECTION_AFTER,
    GcPauses,
    freeze_start_up,
)


def test_every_collection_is_timed_by_its_generation() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(registry)
    pauses.install()
    try:
        gc.collect()
        gc.collect(0)
    finally:
        pauses.uninstall()
    gc.collect()  # (not counted: uninstalled)

    def count(generation: str) -> float:
        labels = {"generation": generation}
        return registry.get_sample_value("coalmine_gc_pause_seconds_count", labels) or 0.0

    assert count("2") == 1 and count("0") >= 1


class Settings:
    """Something made at start-up."""


def test_start_up_is_frozen_and_still_freed_by_reference_counting() -> None:
    made = Settings()
    alive = weakref.ref(made)
    thresholds = gc.get_threshold()
    try:
        frozen = freeze_start_up()
        assert frozen == gc.get_freeze_count() > 1000
        assert any(o is made for o in gc.get_objects()) is False, "out of the scans"
        del made
        assert alive() is None, "freed when its last reference went"
        assert gc.get_threshold() == (YOUNG_COLLECTION_AFTER, thresholds[1], FULL_COLLECTION_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
