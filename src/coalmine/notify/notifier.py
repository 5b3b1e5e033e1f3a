"""AlertingNotifier: the Notifier port, delivering the engine's alerts to chat tools.

Events and alerts both go on to an inner notifier unchanged (Kubernetes Events, the
local store, a test recorder). Each alert is also posted to every alert provider the
canary subscribes to in `analysis.alerts` whose severity admits it (see
`notify.severity`); a canary with no alerts configured uses the default provider, if
one is given (Flagger's global `--slack-url` and friends).

Nothing here raises into the engine: a missing provider, a missing secret, a refused
connection, a timeout or an HTTP 500 is logged as a warning and counted in `stats`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from coalmine.api.alert_provider import AlertProvider, AlertProviderSpec, AlertProviderType
from coalmine.api.canary import Canary, CanaryAlert
from coalmine.api.common import COALMINE_GROUP, ObjectMeta
from coalmine.engine.decision import Alert, Event
from coalmine.engine.ports import Notifier
from coalmine.errors import CoalmineError
from coalmine.logs import CanaryLogger, canary_logger
from coalmine.notify.address import resolve_address
from coalmine.notify.base import AlertMessage, AlertProviderLookup, Destination, SecretSource
from coalmine.notify.message import build_message
from coalmine.notify.registry import format_for
from coalmine.notify.sender import AlertSender
from coalmine.notify.severity import admits

__all__ = ["AlertingNotifier", "DeliveryStats", "global_provider"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    """Alerts posted and failed, by provider (`name.namespace`, or `default`)."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


def global_provider(
    provider_type: AlertProviderType,
    address: str,
    *,
    channel: str | None = None,
    username: str | None = None,
    proxy: str | None = None,
) -> AlertProvider:
    """The default provider from start-up flags (Flagger's `--slack-url`, `--msteams-url`)."""
    return AlertProvider(
        api_version=f"{COALMINE_GROUP}/v1beta1",
        metadata=ObjectMeta(name="default"),
        spec=AlertProviderSpec(
            type=provider_type, address=address, channel=channel, username=username, proxy=proxy
        ),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlertingNotifier:
    """A Notifier that also posts alerts to the canary's alert providers."""

    def __init__(
        self,
        *,
        inner: Notifier,
        providers: AlertProviderLookup,
        secrets: SecretSource,
        sender: AlertSender | None = None,
        default: AlertProvider | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`sender` defaults to a new AlertSender (5 s timeout) that `close()` closes."""
        self.inner = inner
        self.providers = providers
        self.secrets = secrets
        self.default = default
        self.clock = clock
        self.stats = DeliveryStats()
        self._owns_sender = sender is None
        self.sender = sender or AlertSender()

    async def event(self, canary: Canary, event: Event) -> None:
        await self.inner.event(canary, event)

    async def alert(self, canary: Canary, alert: Alert) -> None:
        await self.inner.alert(canary, alert)
        message = build_message(canary, alert, self.clock())
        logger = canary_logger(log, canary.name, canary.namespace)
        targets = await self._targets(canary, alert, logger)
        await asyncio.gather(*(self._deliver(key, p, message, logger) for key, p in targets))

    async def close(self) -> None:
        if self._owns_sender:
            await self.sender.close()

    async def __aenter__(self) -> AlertingNotifier:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _targets(
        self, canary: Canary, alert: Alert, logger: CanaryLogger
    ) -> list[tuple[str, AlertProvider]]:
        subscriptions = canary.spec.analysis.alerts
        if not subscriptions:
            return [("default", self.default)] if self.default is not None else []
        targets = []
        for subscription in subscriptions:
            if admits(subscription.severity, alert.severity):
                found = await self._lookup(canary, subscription, logger)
                if found is not None:
                    targets.append(found)
        return targets

    async def _lookup(
        self, canary: Canary, subscription: CanaryAlert, logger: CanaryLogger
    ) -> tuple[str, AlertProvider] | None:
        ref = subscription.provider_ref
        namespace = ref.namespace or canary.namespace
        key = f"{ref.name}.{namespace}"
        try:
            provider = await self.providers.get(ref.name, namespace)
        except CoalmineError as error:
            self._failed(key, f"cannot look up alert provider {key}: {error}", logger)
            return None
        if provider is None:
            self._failed(
                key,
                f"alert {subscription.name!r} names alert provider {key}, which does not exist; "
                f"create it or fix analysis.alerts[].providerRef",
                logger,
            )
            return None
        return key, provider

    async def _deliver(
        self, key: str, provider: AlertProvider, message: AlertMessage, logger: CanaryLogger
    ) -> None:
        try:
            alert_format = format_for(provider.spec.type)
            address = alert_format.endpoint(await resolve_address(provider, self.secrets))
            destination = Destination(
                address=address,
                channel=provider.spec.channel or "general",
                username=provider.spec.username or "coalmine",
                proxy=provider.spec.proxy,
            )
            body = alert_format.payload(message, destination)
            await self.sender.post(address, body, proxy=destination.proxy)
        except CoalmineError as error:
            self._failed(key, f"alert to {key} ({provider.spec.type}) failed: {error}", logger)
            return
        except Exception:  # a bug must not stop a rollback: log it loudly, count it, go on
            logger.exception("alert to %s (%s) failed unexpectedly", key, provider.spec.type)
            self.stats.failed[key] += 1
            return
        self.stats.sent[key] += 1

    def _failed(self, key: str, reason: str, logger: CanaryLogger) -> None:
        logger.warning("%s", reason)
        self.stats.failed[key] += 1
