"""Google Chat incoming webhooks: a text line plus a card (cardsV2).

Flagger sends the `cards` (v1) format, which Google has deprecated; coalmine sends
`cardsV2`: a header (title, subtitle), then a section of `decoratedText` widgets, one
per fact (`topLabel` is the name, `text` the value, HTML-escaped since card text is
formatted). The top-level `text` is what notifications and clients without cards show.
"""

from __future__ import annotations

from html import escape
from typing import Any

from coalmine.notify.base import AlertMessage, Destination

__all__ = ["GoogleChatFormat"]


class GoogleChatFormat:
    def endpoint(self, address: str) -> str:
        return address

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        headline = {"textParagraph": {"text": f"<b>{escape(message.text)}</b>"}}
        widgets: list[dict[str, Any]] = [headline]
        widgets += [
            {"decoratedText": {"topLabel": fact.name, "text": escape(fact.value)}}
            for fact in message.facts
        ]
        return {
            "text": message.summary,
            "cardsV2": [
                {
                    "cardId": f"coalmine-{message.subject}",
                    "card": {
                        "header": {"title": "coalmine", "subtitle": message.subject},
                        "sections": [{"widgets": widgets}],
                    },
                }
            ],
        }
