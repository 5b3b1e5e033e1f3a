"""Event webhooks: forwarded after the inner notifier, and never in the engine's way."""

from __future__ import annotations

from datetime import UTC, datetime

from coalmine.api import AlertSeverity
from coalmine.engine import Alert, Event, EventType
from coalmine.hooks import EventWebhookNotifier, HttpHooks
from coalmine.testing import RecordingNotifier
from tests.engine.builders import canary
from tests.fixtures.hooks import Answer, Receiver


async def test_events_reach_every_event_webhook_and_alerts_only_the_inner_notifier(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/down", Answer(503, "maintenance"))
    c = canary(
        {
            "webhooks": [
                {"name": "down", "type": "event", "url": hook_endpoint.url("/down")},
                {"name": "chat", "type": "event", "url": hook_endpoint.url("/chat")},
                {"name": "gate", "type": "confirm-rollout", "url": hook_endpoint.url("/gate")},
            ]
        }
    )
    inner = RecordingNotifier()
    notifier = EventWebhookNotifier(
        inner, http_hooks, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)
    )
    await notifier.event(c, Event("Halt advancement", EventType.WARNING))
    await notifier.alert(c, Alert(AlertSeverity.WARN, "Canary is waiting for approval."))

    assert inner.messages == ["Halt advancement"]
    assert [a.message for a in inner.alerts] == ["Canary is waiting for approval."]
    assert hook_endpoint.paths() == ["/down", "/chat"]  # a failing one does not stop the next
    assert hook_endpoint.calls[1].json["metadata"] == {
        "eventMessage": "Halt advancement",
        "eventType": "Warning",
        "timestamp": "1767225600000",
    }


async def test_an_event_webhook_with_disable_tls_reaches_a_self_signed_server(
    https_hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    url = https_hook_endpoint.url("/events")
    hooks = [
        {"name": "checked", "type": "event", "url": url},
        {"name": "unchecked", "type": "event", "url": url, "disableTLS": True},
    ]
    notifier = EventWebhookNotifier(RecordingNotifier(), http_hooks)
    await notifier.event(canary({"webhooks": hooks}), Event("Advance", EventType.NORMAL))
    assert len(https_hook_endpoint.calls) == 1  # only the one that skips the certificate check
