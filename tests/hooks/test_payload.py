"""Flagger's payloads: the checksum of a rollout, the event payload."""

from __future__ import annotations

from datetime import UTC, datetime

from coalmine.api import Canary, CanaryWebhook
from coalmine.hooks import checksum, event_payload
from tests.engine.builders import canary


def at_revision(revision: str, tracked: dict[str, str] | None = None) -> Canary:
    c = canary()
    status = c.status.model_copy(update={"last_applied_spec": revision, "tracked_configs": tracked})
    return c.with_status(status)


def test_checksum_names_one_rollout() -> None:
    first = checksum(at_revision("aaa"))
    assert first == checksum(at_revision("aaa"))
    assert first != checksum(at_revision("bbb"))
    assert first != checksum(at_revision("aaa", {"configmap/settings": "v2"}))
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_event_payload_keeps_its_own_keys_over_the_webhooks_metadata() -> None:
    hook = CanaryWebhook.model_validate(
        {
            "name": "chat",
            "type": "event",
            "url": "http://chat.test/",
            "metadata": {"channel": "releases", "eventType": "overridden?"},
        }
    )
    new_year = datetime(2026, 1, 1, tzinfo=UTC)
    payload = event_payload(at_revision("aaa"), hook, "Advance weight 20", "Normal", new_year)
    assert payload["metadata"] == {
        "channel": "releases",
        "eventMessage": "Advance weight 20",
        "eventType": "Normal",
        "timestamp": "1767225600000",
    }
