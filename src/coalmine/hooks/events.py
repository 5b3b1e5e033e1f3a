"""Event webhooks: every engine event also goes to the canary's `event`-type webhooks.

A Notifier wrapper, so it composes with whatever records events (Kubernetes Events,
the local store): events go to the inner notifier first, then to each event webhook
with Flagger's event payload; alerts go to the inner notifier only. An event webhook
that fails is logged and otherwise ignored, as in Flagger: its answer changes nothing,
and reporting it as an event would only call it again.

`muteAlert` needs nothing here: it silences the alert of a closed gate, which the
engine already leaves out of its decision (engine/decide); the event is still sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from coalmine.api.canary import Canary, CanaryWebhook, HookType
from coalmine.engine.decision import Alert, Event
from coalmine.engine.ports import Notifier
from coalmine.hooks.http import HttpHooks
from coalmine.hooks.payload import event_payload

__all__ = ["EventWebhookNotifier"]

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EventWebhookNotifier:
    """Passes events and alerts to `inner`, and events to the canary's event webhooks."""

    def __init__(
        self, inner: Notifier, hooks: HttpHooks, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.inner = inner
        self.hooks = hooks
        self.clock = clock
        """The event's timestamp; a simulation passes its fake clock."""

    async def event(self, canary: Canary, event: Event) -> None:
        await self.inner.event(canary, event)
        for webhook in canary.spec.analysis.webhooks:
            if webhook.type == HookType.EVENT:
                await self._send(canary, webhook, event)

    async def _send(self, canary: Canary, webhook: CanaryWebhook, event: Event) -> None:
        payload = event_payload(canary, webhook, event.message, event.type.value, self.clock())
        result = await self.hooks.post(
            webhook.url,
            payload,
            timeout_seconds=webhook.timeout_seconds,
            retries=webhook.retries,
            verify_tls=not webhook.disable_tls,
        )
        if not result.ok:
            message = result.message
            log.warning("event webhook %s of %s failed: %s", webhook.name, canary.key, message)

    async def alert(self, canary: Canary, alert: Alert) -> None:
        await self.inner.alert(canary, alert)
