"""Discord: the Slack-compatible endpoint (`<webhook>/slack`), as Flagger does.

Why not Discord's native embeds: an AlertProvider written for Flagger then works
unchanged (its address may or may not end in `/slack`; both work), and Slack,
Rocket.Chat and Discord share one attachment builder. Discord documents this
endpoint ("Execute Slack-Compatible Webhook") and turns each attachment into an
embed with its colour and fields. It ignores `channel`, `icon_emoji` and
`mrkdwn_in`, so they are not sent: a Discord webhook posts to the channel it was
created for.
"""

from __future__ import annotations

from typing import Any

from coalmine.notify.base import AlertMessage, Destination
from coalmine.notify.slack import slack_attachment

__all__ = ["DiscordFormat"]


class DiscordFormat:
    def endpoint(self, address: str) -> str:
        """`https://discord.com/api/webhooks/ID/TOKEN` -> `.../TOKEN/slack`, query kept."""
        base, sep, query = address.partition("?")
        if not base.rstrip("/").endswith("/slack"):
            base = base.rstrip("/") + "/slack"
        return base + sep + query

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        attachment = slack_attachment(message)
        del attachment["mrkdwn_in"]
        return {
            "username": destination.username,
            "text": f"**{message.subject}** {message.phase}".rstrip(),
            "attachments": [attachment],
        }
