"""Webhooks: the HTTP adapter of the Hooks port, event webhooks, Flagger's payloads.

The load tester that answers these webhooks is `coalmine.loadtester`.
"""

from coalmine.hooks.events import EventWebhookNotifier
from coalmine.hooks.http import HttpHooks, RetryPolicy
from coalmine.hooks.payload import checksum, event_payload, webhook_payload

__all__ = [
    "EventWebhookNotifier",
    "HttpHooks",
    "RetryPolicy",
    "checksum",
    "event_payload",
    "webhook_payload",
]
