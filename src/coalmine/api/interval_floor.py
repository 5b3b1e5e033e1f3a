"""The runtime's floor for `spec.analysis.interval`, checked where a Canary is admitted.

Flagger refuses an interval under 10 s. The floor is a setting of the runtime that will
tick the Canary (`--min-interval` of `coalmine controller`, `coalmine up` and `coalmine
validate`), not a property of the Canary, so the model checks only that the interval is
a duration and each admission calls `interval_problems` with its own floor: the
controller's validation (`kube.runtime.validation`), `coalmine validate`, and `coalmine
up`'s apply (`local.objects.ObjectBook`). Reading from objects already admitted (the
store, the cluster, a backtest's file) checks no floor.

It reads the document, not the model, so that the problem is listed with the model's own
(a Canary with three problems gets all three at once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from coalmine.api.common import parse_duration
from coalmine.errors import Problem

__all__ = ["FIELD", "MIN_INTERVAL", "interval_problems"]

MIN_INTERVAL = timedelta(seconds=10)
"""Flagger's floor: the default of every runtime's --min-interval."""

FIELD = "spec.analysis.interval"


def interval_problems(document: object, floor: timedelta) -> list[Problem]:
    """The interval of a Canary document below `floor`, as a problem naming the field,
    the floor and the flag that sets it; empty for anything else (not a Canary, no
    interval, not a duration: the model reports that one)."""
    if not isinstance(document, dict) or document.get("kind") != "Canary":
        return []
    interval = _get(document, "spec", "analysis", "interval")
    if not isinstance(interval, str):
        return []
    try:
        given = parse_duration(interval)
    except ValueError:
        return []
    if given >= floor:
        return []
    name = _get(document, "metadata", "name")
    return [
        Problem(
            f"canary {name}" if isinstance(name, str) else "",
            FIELD,
            f"must be at least {floor.total_seconds():g}s (the floor, --min-interval),"
            f" got {interval!r}: raise it, or lower --min-interval",
        )
    ]


def _get(document: dict[str, Any], *keys: str) -> object:
    value: object = document
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
