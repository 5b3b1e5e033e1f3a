"""Alert provider types by name: the AlertProvider `spec.type` picks one."""

from __future__ import annotations

from collections.abc import Mapping

from coalmine.errors import NotFound
from coalmine.notify.base import AlertFormat
from coalmine.notify.discord import DiscordFormat
from coalmine.notify.gchat import GoogleChatFormat
from coalmine.notify.msteams import MSTeamsFormat
from coalmine.notify.rocket import RocketFormat
from coalmine.notify.slack import SlackFormat
from coalmine.notify.webhook import WebhookFormat

__all__ = ["FORMATS", "format_for"]

FORMATS: Mapping[str, AlertFormat] = {
    "slack": SlackFormat(),
    "msteams": MSTeamsFormat(),
    "discord": DiscordFormat(),
    "rocket": RocketFormat(),
    "gchat": GoogleChatFormat(),
    "webhook": WebhookFormat(),
}


def format_for(provider_type: str) -> AlertFormat:
    """The format for a provider type; an unknown type is an error that lists the valid ones."""
    try:
        return FORMATS[provider_type]
    except KeyError:
        raise NotFound(
            f"unknown alert provider type {provider_type!r}; valid types: {', '.join(FORMATS)}"
        ) from None
