"""The built-in measurements of a canary's primary and canary, side by side (`coalmine metrics`).

Both the local runtime (Envoy's stats, or its Prometheus) and a cluster (Prometheus with
the Istio built-ins) answer with this shape, so the command prints either the same way.
"""

from __future__ import annotations

from typing import Any

from coalmine.api.canary import Canary
from coalmine.metrics.builtins import Role
from coalmine.metrics.providers.base import BuiltinChecks

__all__ = ["METRICS_SHOWN", "side_by_side"]

METRICS_SHOWN = (
    "request-rate",
    "request-success-rate",
    "error-rate",
    "request-duration-avg",
    "request-duration",
    "request-duration-max",
)
"""What `coalmine metrics` shows, in order."""


async def side_by_side(
    measurer: BuiltinChecks, canary: Canary, interval: str, source: str
) -> dict[str, Any]:
    """{"source", "interval", "metrics": {name: {"primary": {...}, "canary": {...}}}}."""
    rows: dict[str, Any] = {}
    for name in METRICS_SHOWN:
        rows[name] = {}
        for role in (Role.PRIMARY, Role.CANARY):
            measured = await measurer.measure_builtin(canary, name, role=role, interval=interval)
            rows[name][role.value] = {
                "value": measured.value,
                "reason": measured.reason,
                "query": measured.query,
            }
    return {"source": source, "interval": interval, "metrics": rows}
