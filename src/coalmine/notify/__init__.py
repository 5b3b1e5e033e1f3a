"""Alerts to chat tools: Slack, Microsoft Teams, Discord, Rocket.Chat, Google Chat, webhooks.

`AlertingNotifier` is the engine's Notifier port; each provider type is one module
with one `AlertFormat` (pure payload building), picked by name in `registry.FORMATS`.
See docs/alerts.md.
"""

from coalmine.notify.address import LocalSecrets, resolve_address, secret_env_var
from coalmine.notify.base import (
    AlertFormat,
    AlertMessage,
    AlertProviderLookup,
    Destination,
    Fact,
    InMemoryAlertProviders,
    SecretSource,
)
from coalmine.notify.message import build_message
from coalmine.notify.notifier import AlertingNotifier, DeliveryStats, global_provider
from coalmine.notify.registry import FORMATS, format_for
from coalmine.notify.sender import AlertSender
from coalmine.notify.severity import admits

__all__ = [
    "FORMATS",
    "AlertFormat",
    "AlertMessage",
    "AlertProviderLookup",
    "AlertSender",
    "AlertingNotifier",
    "DeliveryStats",
    "Destination",
    "Fact",
    "InMemoryAlertProviders",
    "LocalSecrets",
    "SecretSource",
    "admits",
    "build_message",
    "format_for",
    "global_provider",
    "resolve_address",
    "secret_env_var",
]
