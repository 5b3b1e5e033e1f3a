"""Manual requests: a person asks to promote now, or to roll back now.

`coalmine promote` and `coalmine abort` write the annotation `coalmine.dev/request` on
the Canary: JSON `{"id": ..., "action": "promote" | "abort", "by": ...}`. The engine acts
on a request once (status.handledRequest records its id), at the next tick, so that a
person and the analysis never act at the same time and a restart never acts twice.

`coalmine pause` and `coalmine resume` set `spec.suspend` instead. Each of the four
records an event saying who asked (`asked_event`), in local mode and in a cluster alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from coalmine.api.canary import Canary
from coalmine.api.parsing import ParseError, load_json
from coalmine.engine.decision import Event

__all__ = [
    "ASKED_REASONS",
    "REQUEST_ANNOTATION",
    "Request",
    "asked_event",
    "pending_request",
    "request_annotation",
]

REQUEST_ANNOTATION = "coalmine.dev/request"

Action = Literal["promote", "abort"]
Asked = Literal["promote", "abort", "pause", "resume"]

ASKED_REASONS: dict[str, str] = {
    "promote": "PromotionRequested",
    "abort": "AbortRequested",
    "pause": "Paused",
    "resume": "Resumed",
}
"""The event reason recorded when a person asks for each action."""


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
        data = load_json(text, source=REQUEST_ANNOTATION)
    except ParseError:  # not JSON, or too deep or too large: an id without an action
        return Request(id=text, action=None)
    if not isinstance(data, dict):
        return Request(id=text, action=None)
    action = data.get("action")
    return Request(
        id=str(data.get("id", text)),
        action=action if action in ("promote", "abort") else None,
        by=str(data.get("by") or "someone"),
    )


def asked_event(asked: Asked, by: str, canary_key: str) -> Event:
    """The event that records who asked for what (`canary_key` is name.namespace)."""
    messages = {
        "promote": f"Promotion of {canary_key} requested by {by}",
        "abort": f"Rollback of {canary_key} requested by {by}",
        "pause": f"{canary_key} paused by {by}: no action until it is resumed",
        "resume": f"{canary_key} resumed by {by}",
    }
    return Event(messages[asked], reason=ASKED_REASONS[asked])
