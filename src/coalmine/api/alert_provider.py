"""AlertProvider: where alerts about a canary go (Slack, Teams, Discord, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from coalmine.api.addresses import web_address
from coalmine.api.common import LocalObjectReference, Model, ObjectMeta

__all__ = ["ALERT_PROVIDER_TYPES", "AlertProvider", "AlertProviderSpec"]

ALERT_PROVIDER_TYPES = ("slack", "msteams", "discord", "rocket", "gchat", "webhook")

AlertProviderType = Literal["slack", "msteams", "discord", "rocket", "gchat", "webhook"]


class AlertProviderSpec(Model):
    type: AlertProviderType
    """"webhook" (a generic JSON POST) is a coalmine addition."""
    channel: str | None = None
    username: str | None = None
    address: str | None = None
    proxy: str | None = None
    secret_ref: LocalObjectReference | None = None
    """A Secret whose `address` key holds the URL (Kubernetes); in local mode see the docs."""

    _web_address = field_validator("address")(web_address)

    @model_validator(mode="after")
    def _has_address(self) -> AlertProviderSpec:
        if not self.address and self.secret_ref is None:
            raise ValueError("set address or secretRef")
        return self


class AlertProvider(Model):
    api_version: str
    kind: Literal["AlertProvider"] = "AlertProvider"
    metadata: ObjectMeta
    spec: AlertProviderSpec
