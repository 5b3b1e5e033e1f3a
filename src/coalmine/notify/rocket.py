"""Rocket.Chat incoming webhooks: the Slack shape, which Rocket.Chat accepts as it is.

As in Flagger, with hex colours. `alias` is Rocket.Chat's own name for the sender's
display name (its `username` is the webhook's bot user), so both are sent.
"""

from __future__ import annotations

from typing import Any

from coalmine.notify.base import AlertMessage, Destination
from coalmine.notify.slack import slack_attachment

__all__ = ["RocketFormat"]


class RocketFormat:
    def endpoint(self, address: str) -> str:
        return address

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        return {
            "channel": destination.channel,
            "username": destination.username,
            "alias": destination.username,
            "icon_emoji": ":rocket:",
            "text": f"*{message.subject}* {message.phase}".rstrip(),
            "attachments": [slack_attachment(message)],
        }
