"""coalmine's generic JSON alert, for anything that is not a chat tool.

A coalmine addition (Flagger has no such provider type). The body, one object:

    {"name": "podinfo", "namespace": "test", "phase": "Failed", "severity": "error",
     "message": "Failed checks threshold reached 3",
     "check": {"metric": "request-success-rate", "value": 80.0, "min": 99.0, "max": null,
               "range": ">= 99", "passed": false, "reason": ""},
     "analysisSeconds": 180.0, "time": "2026-01-01T12:00:00+00:00",
     "facts": [{"name": "Phase", "value": "Failed"}, ...]}

`check` and `analysisSeconds` are null when the alert has none.
"""

from __future__ import annotations

from typing import Any

from coalmine.engine.decision import CheckResult
from coalmine.notify.base import AlertMessage, Destination

__all__ = ["WebhookFormat"]


class WebhookFormat:
    def endpoint(self, address: str) -> str:
        return address

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        duration = message.analysis_duration
        return {
            "name": message.canary,
            "namespace": message.namespace,
            "phase": message.phase,
            "severity": message.severity.value,
            "message": message.text,
            "check": _check(message.check) if message.check else None,
            "analysisSeconds": duration.total_seconds() if duration is not None else None,
            "time": message.time.isoformat(),
            "facts": [{"name": fact.name, "value": fact.value} for fact in message.facts],
        }


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "metric": check.metric,
        "value": check.value,
        "min": check.range.min,
        "max": check.range.max,
        "range": check.range.describe(),
        "passed": check.passed,
        "reason": check.reason,
    }
