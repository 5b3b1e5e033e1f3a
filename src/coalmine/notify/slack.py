"""Slack incoming webhooks: a message with one attachment (colour, fields), as Flagger sends.

Slack documents `text` plus legacy `attachments` (`color`, `fields` of title/value/short,
`fallback`) for incoming webhooks; `username`, `channel` and `icon_emoji` are honoured
by legacy webhooks and ignored by app webhooks. Rocket.Chat and Discord read the same
shape (see `rocket.py`, `discord.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coalmine.notify.base import AlertMessage, Destination

__all__ = ["SlackFormat", "slack_attachment", "slack_escape"]


class SlackFormat:
    def endpoint(self, address: str) -> str:
        return address

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        return {
            "channel": destination.channel,
            "username": destination.username,
            "icon_emoji": ":rocket:",
            "text": f"*{message.subject}* {message.phase}".rstrip(),
            "attachments": [slack_attachment(message, escape=slack_escape)],
        }


def slack_escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup: its docs ask for these three as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_attachment(
    message: AlertMessage, *, escape: Callable[[str], str] = str
) -> dict[str, Any]:
    """The attachment Slack, Rocket.Chat and Discord's Slack endpoint all render.

    `text` and field values are markup; `fallback` and `author_name` are plain text.
    """
    return {
        "color": message.color,
        "author_name": message.subject,
        "text": escape(message.text),
        "fallback": message.summary,
        "mrkdwn_in": ["text"],
        "fields": [
            {"title": fact.name, "value": escape(fact.value), "short": False}
            for fact in message.facts
        ],
        "ts": int(message.time.timestamp()),
    }
