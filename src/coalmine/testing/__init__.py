"""Test doubles for every port, a fake clock, and a tick-by-tick simulation.

coalmine's own tests use them; so can yours, to see what a Canary would do
with given metric values before it meets real traffic.
"""

from coalmine.testing.clock import FakeClock
from coalmine.testing.fakes import (
    FakeDeployment,
    FakeHooks,
    FakeMeasurer,
    FakeObserver,
    FakeRouter,
    FakeWorkload,
    HookCall,
    InMemoryStore,
    RecordingNotifier,
    RecordingRecorder,
    revision_of,
)
from coalmine.testing.simulation import Simulation

__all__ = [
    "FakeClock",
    "FakeDeployment",
    "FakeHooks",
    "FakeMeasurer",
    "FakeObserver",
    "FakeRouter",
    "FakeWorkload",
    "HookCall",
    "InMemoryStore",
    "RecordingNotifier",
    "RecordingRecorder",
    "Simulation",
    "revision_of",
]
