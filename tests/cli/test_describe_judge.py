"""describe and status -o json show what the judge measured and decided."""

from __future__ import annotations

import json
from typing import Any

from coalmine.cli.describe import render_canary
from coalmine.cli.status import _as_json
from coalmine.targets.base import CanaryView

MESSAGE = (
    "errors: canary 2.31 % vs primary 0.40 % (+1.91 pt, 99 % interval +1.2..+2.6)"
    " > 0.5 pt: rollback"
)
SPEC: dict[str, Any] = {
    "targetRef": {"name": "app"},
    "service": {"port": 80},
    "analysis": {
        "stepWeight": 20,
        "judge": {
            "errors": {"maxIncrease": 0.5},
            "latency": {"quantile": 0.99, "maxIncrease": "10%"},
            "confidence": 0.99,
        },
    },
}
STATUS: dict[str, Any] = {
    "phase": "Failed",
    "judge": {
        "checks": [
            {
                "name": "errors",
                "verdict": "rollback",
                "estimate": 0.0191,
                "lower": 0.012,
                "upper": 0.026,
                "message": MESSAGE,
            }
        ]
    },
}


def test_describe_shows_the_margins_and_each_checks_verdict() -> None:
    item = {"name": "app", "namespace": "test", "manifest": {"spec": SPEC}, "status": STATUS}
    text = render_canary(item, [])
    assert "Judge:        errors +0.5 pt, latency p99 +10% at 99 % confidence, at most 30m" in text
    assert f"  {MESSAGE}" in text


class OneCanary:
    namespace = "test"

    async def canary(self, namespace: str, name: str) -> CanaryView:
        return CanaryView(namespace, name, SPEC, STATUS)

    async def canaries(self, namespace: str | None) -> list[CanaryView]:
        return [await self.canary("test", "app")]


async def test_status_json_carries_estimate_interval_and_verdict() -> None:
    one = json.loads(await _as_json(OneCanary(), "app", "test"))  # type: ignore[arg-type]
    check = one["status"]["judge"]["checks"][0]
    assert (check["estimate"], check["lower"], check["upper"]) == (0.0191, 0.012, 0.026)
    assert check["verdict"] == "rollback"
    every = json.loads(await _as_json(OneCanary(), None, None))  # type: ignore[arg-type]
    assert every[0]["name"] == "app"
