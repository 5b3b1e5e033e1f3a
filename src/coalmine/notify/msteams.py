"""Microsoft Teams incoming webhooks: a MessageCard with one section of facts, as Flagger sends.

MessageCard is the legacy actionable-message format that Office 365 connector
webhooks take: `@type`, `@context`, `themeColor` (hex without `#`), `summary` (the
notification text, required when there is no `text`), and `sections` with
`activityTitle`, `activitySubtitle` and `facts` (name/value pairs). Teams Workflows
webhooks (Power Automate) take Adaptive Cards instead; coalmine does not send those yet.
"""

from __future__ import annotations

from typing import Any

from coalmine.notify.base import AlertMessage, Destination

__all__ = ["MSTeamsFormat"]


class MSTeamsFormat:
    def endpoint(self, address: str) -> str:
        return address

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        return {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": message.color.removeprefix("#"),
            "summary": message.summary,
            "sections": [
                {
                    "activityTitle": message.text,
                    "activitySubtitle": message.subject,
                    "facts": [{"name": fact.name, "value": fact.value} for fact in message.facts],
                }
            ],
        }
