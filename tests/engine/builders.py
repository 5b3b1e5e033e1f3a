"""Canaries for engine tests, built from the few fields a test cares about."""

from __future__ import annotations

from typing import Any

from coalmine.api import Canary, parse_resource


def canary(
    analysis: dict[str, Any] | None = None,
    *,
    name: str = "go-demo-7",
    namespace: str = "test",
    **spec: Any,
) -> Canary:
    """A Canary for Deployment `name`, parsed from YAML-shaped data like a user's manifest.

    Defaults: interval 1m, threshold 2, stepWeight 20, maxWeight 60, one success-rate metric.
    """
    base_analysis: dict[str, Any] = {
        "interval": "1m",
        "threshold": 2,
        "stepWeight": 20,
        "maxWeight": 60,
        "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
    }
    base_analysis.update(analysis or {})
    for key in [k for k, v in base_analysis.items() if v is None]:
        del base_analysis[key]
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 80},
            "analysis": base_analysis,
            **spec,
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def hook(name: str, type_: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "url": f"http://hooks.test/{name}", **fields}
