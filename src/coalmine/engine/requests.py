"""Manual requests: a person asks to promote now, or to roll back now.

`coalmine promote` and `coalmine abort` write the annotation `coalmine.dev/request` on
the Canary: JSON `{"id": ..., "action": "promote" | "abort", "by": ...}`. The engine acts
on a request once (status.handledRequest records its id), at the next tick, so that a
person and the analysis never act at the same time and a restart never acts twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from coalmine.api.canary import Canary

__all__ = ["REQUEST_ANNOTATION", "Request", "pending_request", "request_annotation"]

REQUEST_ANNOTATION = "coalmine.dev/request"

Action = Literal["promote", "abort"]


@dataclass(frozen=True)
class Request:
    id: str
    action: Action | None
    """None when the annotation is not a request coalmine understands."""
    by: str = "someone"


def pending_request(canary: Canary) -> Request | None:
    """The request on the canary that was not acted upon yet."""
    text = canary.metadata.annotations.get(REQUEST_ANNOTATION)
    if text is None:
        return None
    request = _parse(text)
    return None if request.id == canary.status.handled_request else request


def request_annotation(request_id: str, action: Action, by: str) -> dict[str, str]:
    """The annotation that asks for `action` (what the CLI writes)."""
    body = json.dumps({"id": request_id, "action": action, "by": by}, sort_keys=True)
    return {REQUEST_ANNOTATION: body}


def _parse(text: str) -> Request:
    try:
        data = json.loads(text)
    except ValueError:
        return Request(id=text, action=None)
    if not isinstance(data, dict):
        return Request(id=text, action=None)
    action = data.get("action")
    return Request(
        id=str(data.get("id", text)),
        action=action if action in ("promote", "abort") else None,
        by=str(data.get("by") or "someone"),
    )
