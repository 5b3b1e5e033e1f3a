"""The canary engine: a pure decision per tick, and the tick that observes and acts.

decide(canary, observations, now) -> Decision | Need     (engine.decide, no I/O)
advance(canary, ports, now) -> TickOutcome               (engine.tick)
"""

from coalmine.engine.decide import decide
from coalmine.engine.decision import (
    Action,
    Alert,
    CheckResult,
    CreatePrimary,
    Decision,
    Event,
    EventType,
    Need,
    NeedHook,
    NeedMeasurements,
    NeedRoutes,
    Promote,
    ReconcileRouting,
    RunHooks,
    ScaleCanary,
    SetRoutes,
)
from coalmine.engine.observations import (
    HookResult,
    Measurement,
    MeasurementKind,
    Observations,
    Routes,
    WorkloadState,
)
from coalmine.engine.tick import TickOutcome, advance

__all__ = [
    "Action",
    "Alert",
    "CheckResult",
    "CreatePrimary",
    "Decision",
    "Event",
    "EventType",
    "HookResult",
    "Measurement",
    "MeasurementKind",
    "Need",
    "NeedHook",
    "NeedMeasurements",
    "NeedRoutes",
    "Observations",
    "Promote",
    "ReconcileRouting",
    "Routes",
    "RunHooks",
    "ScaleCanary",
    "SetRoutes",
    "TickOutcome",
    "WorkloadState",
    "advance",
    "decide",
]
