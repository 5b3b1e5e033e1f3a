"""What a webhook receives: Flagger's payload, byte for byte where it matters.

Flagger posts `{"name", "namespace", "phase", "checksum", "metadata"}` as compact JSON
(Go's `encoding/json`: keys in struct order, map keys sorted, `<`, `>` and `&` escaped,
`metadata` left out when empty). Receivers written for Flagger (its load tester, canary
gates, chat bots) read exactly these fields, so coalmine sends exactly these.

The checksum identifies one rollout: it changes when the target's revision or a
tracked config changes, and stays the same across every call of one analysis. Flagger
computes it with Go's `spew` dump of a struct, which has no portable definition; coalmine
hashes the same two fields (FNV-32a, encoded with Kubernetes' SafeEncodeString alphabet),
so it has the same role and shape but not Flagger's value for the same canary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coalmine.api.canary import Canary, CanaryWebhook, Phase

__all__ = ["checksum", "encode", "event_payload", "webhook_payload"]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Kubernetes' rand.SafeEncodeString alphabet: no vowels, no look-alike characters."""

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def webhook_payload(canary: Canary, webhook: CanaryWebhook, phase: Phase) -> dict[str, Any]:
    """The body of a gate, rollout or post-rollout call (Flagger's CallWebhook)."""
    return _payload(canary, phase.value, webhook.metadata or {})


def event_payload(
    canary: Canary, webhook: CanaryWebhook, message: str, event_type: str, now: datetime
) -> dict[str, Any]:
    """The body of an event webhook call (Flagger's CallEventWebhook).

    The webhook's own metadata is added, but never replaces the three event keys.
    """
    metadata = {
        "eventMessage": message,
        "eventType": event_type,
        "timestamp": str(int(now.timestamp() * 1000)),
    }
    for key, value in (webhook.metadata or {}).items():
        metadata.setdefault(key, value)
    phase = canary.status.phase.value if canary.status.phase else ""
    return _payload(canary, phase, metadata)


def _payload(canary: Canary, phase: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": canary.name,
        "namespace": canary.namespace,
        "phase": phase,
        "checksum": checksum(canary),
    }
    if metadata:
        payload["metadata"] = dict(sorted(metadata.items()))
    return payload


def checksum(canary: Canary) -> str:
    """A short id of the rollout: the same for every call of one analysis."""
    status = canary.status
    fields = {"trackedConfigs": status.tracked_configs, "lastAppliedSpec": status.last_applied_spec}
    digest = _fnv32a(json.dumps(fields, sort_keys=True).encode())
    return "".join(_SAFE_ALPHABET[ord(char) % len(_SAFE_ALPHABET)] for char in str(digest))


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact JSON as Go's encoding/json writes it."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()
