"""What every alert provider sees, and the small Protocols that connect them to the world.

An `AlertMessage` is built once per alert (see `notify.message`); each chat tool's
`AlertFormat` turns it into that tool's incoming-webhook JSON. Providers are data
(the `AlertProvider` resource); where they live and where their secret addresses
live are Protocols, implemented in memory here, on disk for local mode
(`notify.address.LocalSecrets`) and by the Kubernetes adapter for the operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from coalmine.api.alert_provider import AlertProvider
from coalmine.api.canary import AlertSeverity
from coalmine.engine.decision import CheckResult

__all__ = [
    "SEVERITY_COLORS",
    "AlertFormat",
    "AlertMessage",
    "AlertProviderLookup",
    "Destination",
    "Fact",
    "InMemoryAlertProviders",
    "SecretSource",
]

SEVERITY_COLORS = {
    AlertSeverity.INFO: "#2EB886",
    AlertSeverity.WARN: "#DAA038",
    AlertSeverity.ERROR: "#A30200",
}
"""Slack's own good/warning/danger colours, as hex so that every chat tool renders them."""


@dataclass(frozen=True)
class Fact:
    """One name/value line under the message (a Slack field, a Teams fact, a Chat widget)."""

    name: str
    value: str


@dataclass(frozen=True)
class AlertMessage:
    """One alert about one canary, with everything a person needs to act on it."""

    canary: str
    namespace: str
    phase: str
    severity: AlertSeverity
    text: str
    """The engine's message ("Failed checks threshold reached 3")."""
    time: datetime
    check: CheckResult | None = None
    """The failed check behind a rollback, when there is one."""
    analysis_duration: timedelta | None = None
    """For verdicts (Succeeded, Failed): how long the analysis ran."""
    facts: tuple[Fact, ...] = ()
    """Phase, failed check, duration and target, in the order people read them."""

    @property
    def subject(self) -> str:
        """name.namespace, as Flagger names a canary in its alerts."""
        return f"{self.canary}.{self.namespace}"

    @property
    def color(self) -> str:
        return SEVERITY_COLORS[self.severity]

    @property
    def summary(self) -> str:
        """Everything on one line, for notification previews and plain-text fallbacks."""
        details = "; ".join(f"{fact.name}: {fact.value}" for fact in self.facts)
        return f"{self.subject}: {self.text}" + (f" ({details})" if details else "")


@dataclass(frozen=True)
class Destination:
    """Where one provider posts, with the address already resolved."""

    address: str
    channel: str = "general"
    """Flagger's default channel."""
    username: str = "coalmine"
    proxy: str | None = None
    """An HTTP(S) proxy URL for this provider only (AlertProvider spec.proxy)."""


class AlertFormat(Protocol):
    """One chat tool's incoming-webhook format. Pure: no I/O, so every format is testable."""

    def endpoint(self, address: str) -> str:
        """The URL to post to, given the address the user configured."""
        ...

    def payload(self, message: AlertMessage, destination: Destination) -> dict[str, Any]:
        """The JSON body, as the tool's documentation describes it."""
        ...


class AlertProviderLookup(Protocol):
    """Where AlertProvider resources live (memory, the local store, the Kubernetes API)."""

    async def get(self, name: str, namespace: str) -> AlertProvider | None:
        """The provider, or None when there is none by that name in that namespace."""
        ...


class SecretSource(Protocol):
    """Where secret values live: files and env vars locally, Secrets in Kubernetes."""

    async def get(self, name: str, namespace: str, key: str) -> str:
        """The value of `key` in the secret; raises NotFound naming where it looked."""
        ...


class InMemoryAlertProviders:
    """AlertProviders held in a dict: for tests, simulations and fixed configurations."""

    def __init__(self, providers: Iterable[AlertProvider] = ()) -> None:
        self._providers: dict[tuple[str, str], AlertProvider] = {}
        for provider in providers:
            self.add(provider)

    def add(self, provider: AlertProvider) -> None:
        self._providers[(provider.metadata.name, provider.metadata.namespace)] = provider

    async def get(self, name: str, namespace: str) -> AlertProvider | None:
        return self._providers.get((name, namespace))
