"""What a Canary names by reference, looked up in the cluster: templates, providers, Secrets.

These implement the lookup Protocols of `coalmine.metrics` (`TemplateLookup`,
`CredentialSource`) and `coalmine.notify` (`AlertProviderLookup`, `SecretSource`), so
the measuring and alerting code is the same in both modes. Resources are
read in coalmine's group, and also in Flagger's when the controller runs with
`--flagger-compat` (coalmine's wins when both exist). Whether a Canary may name
another namespace is decided before the tick (see `kube.runtime.validation`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from coalmine.api.alert_provider import AlertProvider
from coalmine.api.common import Model
from coalmine.api.loading import CUSTOM_RESOURCES, parse_resource
from coalmine.api.metric_template import MetricTemplate
from coalmine.errors import CoalmineError, ManifestError, NotFound
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import SECRETS, Kind
from coalmine.metrics.credentials import Credentials

__all__ = [
    "KubeAlertProviders",
    "KubeCredentials",
    "KubeSecrets",
    "KubeTemplates",
    "find_resource",
    "parse_custom_resource",
]

MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "spec")
"""What the models read; status and anything a controller adds are left out."""


async def find_resource(
    client: KubeClient, kinds: Sequence[Kind], name: str, namespace: str
) -> Obj | None:
    """The first of `kinds` (in order) that has an object by that name."""
    for kind in kinds:
        found = await client.get(kind, name, namespace)
        if found is not None:
            return found
    return None


def parse_custom_resource(obj: Obj) -> Model:
    """A stored coalmine/Flagger resource as its model; CoalmineError naming every problem."""
    document: dict[str, Any] = {key: obj[key] for key in MANIFEST_FIELDS if key in obj}
    try:
        return parse_resource(document, kinds=CUSTOM_RESOURCES)
    except ManifestError as error:
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind', 'object')} {meta.get('name')}.{meta.get('namespace')}"
        problems = "; ".join(str(problem) for problem in error.problems)
        raise CoalmineError(f"{where} is invalid: {problems}") from None


class KubeAlertProviders:
    """AlertProviderLookup over the cluster."""

    def __init__(self, client: KubeClient, kinds: Sequence[Kind]) -> None:
        self.client = client
        self.kinds = tuple(kinds)

    async def get(self, name: str, namespace: str) -> AlertProvider | None:
        found = await find_resource(self.client, self.kinds, name, namespace)
        if found is None:
            return None
        provider = parse_custom_resource(found)
        if not isinstance(provider, AlertProvider):
            raise CoalmineError(f"{name}.{namespace} is not an AlertProvider")
        return provider


class KubeTemplates:
    """TemplateLookup over the cluster."""

    def __init__(self, client: KubeClient, kinds: Sequence[Kind]) -> None:
        self.client = client
        self.kinds = tuple(kinds)

    async def get(self, name: str, namespace: str) -> MetricTemplate:
        found = await find_resource(self.client, self.kinds, name, namespace)
        if found is None:
            raise NotFound(
                f"metric template {name} not found in namespace {namespace}; create it "
                "or fix the metric's templateRef"
            )
        template = parse_custom_resource(found)
        if not isinstance(template, MetricTemplate):
            raise CoalmineError(f"{name}.{namespace} is not a MetricTemplate")
        return template


class KubeSecrets:
    """SecretSource over the cluster: one key of a Secret, decoded."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def get(self, name: str, namespace: str, key: str) -> str:
        values = await self.values(name, namespace)
        if key not in values:
            keys = ", ".join(sorted(values)) or "none"
            raise NotFound(f"secret {name} in {namespace} has no key {key!r} (keys: {keys})")
        return values[key]

    async def values(self, name: str, namespace: str) -> dict[str, str]:
        """Every key of the Secret, decoded; NotFound when there is no such Secret."""
        secret = await self.client.get(SECRETS, name, namespace)
        if secret is None:
            raise NotFound(f"secret {name} not found in namespace {namespace}")
        values = {str(k): str(v) for k, v in (secret.get("stringData") or {}).items()}
        for key, encoded in (secret.get("data") or {}).items():
            try:
                values[str(key)] = base64.b64decode(encoded, validate=True).decode().strip()
            except (binascii.Error, UnicodeDecodeError):
                raise CoalmineError(
                    f"secret {name} in {namespace}: key {key!r} is not base64-encoded text"
                ) from None
        return values


class KubeCredentials:
    """CredentialSource over the cluster: a MetricTemplate's secretRef (token, or
    username and password)."""

    def __init__(self, secrets: KubeSecrets) -> None:
        self.secrets = secrets

    async def get(self, name: str, namespace: str) -> Credentials:
        values = await self.secrets.values(name, namespace)
        return Credentials.from_mapping(values, source=f"secret {name} in {namespace}")
