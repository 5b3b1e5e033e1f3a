"""MetricTemplates, AlertProviders and Secrets, read from the cluster by name."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from coalmine.errors import CoalmineError, NotFound
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.lookups import (
    KubeAlertProviders,
    KubeCredentials,
    KubeSecrets,
    KubeTemplates,
)
from coalmine.kube.adapters.resources import (
    ALERT_PROVIDERS,
    FLAGGER_ALERT_PROVIDERS,
    FLAGGER_METRIC_TEMPLATES,
    METRIC_TEMPLATES,
)
from coalmine.metrics import Credentials
from tests.fixtures.operator import NAMESPACE, create, shipped_crds
from tests.kube_emulator import ApiError, KubeEmulator


def provider(name: str, group: str = "coalmine.dev", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec or {"type": "slack", "channel": "releases", "secretRef": {"name": "slack"}},
    }


def template(name: str, group: str = "coalmine.dev") -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "provider": {"type": "prometheus", "address": "http://thanos:9090",
                         "secretRef": {"name": "thanos"}},
            "query": "sum(rate(http_requests_total{job='{{ target }}'}[{{ interval }}]))",
        },
    }  # fmt: skip


def secret(name: str, **values: str) -> dict[str, Any]:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": data,
    }


@pytest.fixture
def flagger_crds(kube_emulator: KubeEmulator, kube_client: KubeClient) -> None:
    for document in shipped_crds("flagger.app"):
        kube_emulator.create("apiextensions.k8s.io/v1", "customresourcedefinitions", document)


async def test_an_alert_provider_is_found_and_parsed(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, provider("on-call"))
    lookup = KubeAlertProviders(kube_client, (ALERT_PROVIDERS,))

    found = await lookup.get("on-call", NAMESPACE)

    assert found is not None
    assert (found.spec.type, found.spec.channel) == ("slack", "releases")
    assert found.metadata.namespace == NAMESPACE
    assert await lookup.get("nobody", NAMESPACE) is None


async def test_flaggers_group_is_read_only_in_compat_mode_and_after_coalmines(
    kube_emulator: KubeEmulator, kube_client: KubeClient, flagger_crds: None
) -> None:
    create(kube_emulator, provider("shared", "flagger.app", type="msteams", address="http://f"))
    create(kube_emulator, provider("shared", type="discord", address="http://c"))
    create(kube_emulator, provider("old", "flagger.app", type="slack", address="http://o"))
    compat = KubeAlertProviders(kube_client, (ALERT_PROVIDERS, FLAGGER_ALERT_PROVIDERS))

    shared = await compat.get("shared", NAMESPACE)
    old = await compat.get("old", NAMESPACE)

    assert shared is not None and shared.spec.type == "discord"
    assert old is not None and old.api_version == "flagger.app/v1beta1"
    assert await KubeAlertProviders(kube_client, (ALERT_PROVIDERS,)).get("old", NAMESPACE) is None


async def test_an_invalid_provider_says_what_is_wrong(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """An object stored before its CRD gained a rule (the API refuses it now) is read and
    refused by the controller with the reason."""
    broken = provider("broken", type="slack")
    with pytest.raises(ApiError, match="set address or secretRef"):
        create(kube_emulator, broken)
    broken["metadata"].update(uid="u-broken", creationTimestamp="2026-01-01T00:00:00Z")
    kube_emulator.store.put(("coalmine.dev", "alertproviders"), broken, "ADDED")
    with pytest.raises(CoalmineError, match=r"AlertProvider broken\.test is invalid: .*address"):
        await KubeAlertProviders(kube_client, (ALERT_PROVIDERS,)).get("broken", NAMESPACE)


async def test_secret_values_are_decoded_and_missing_ones_named(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, secret("slack", address="https://hooks.slack.com/x\n"))
    secrets = KubeSecrets(kube_client)

    assert await secrets.get("slack", NAMESPACE, "address") == "https://hooks.slack.com/x"
    with pytest.raises(
        NotFound, match=r"secret slack in test has no key 'token' \(keys: address\)"
    ):
        await secrets.get("slack", NAMESPACE, "token")
    with pytest.raises(NotFound, match="secret teams not found in namespace test"):
        await secrets.get("teams", NAMESPACE, "address")


async def test_templates_come_from_the_cluster_and_flaggers_group_in_compat_mode(
    kube_emulator: KubeEmulator, kube_client: KubeClient, flagger_crds: None
) -> None:
    create(kube_emulator, template("latency"))
    create(kube_emulator, template("errors", "flagger.app"))
    templates = KubeTemplates(kube_client, (METRIC_TEMPLATES, FLAGGER_METRIC_TEMPLATES))

    latency = await templates.get("latency", NAMESPACE)
    errors = await templates.get("errors", NAMESPACE)

    assert latency.spec.provider.address == "http://thanos:9090"
    assert "{{ target }}" in errors.spec.query
    with pytest.raises(NotFound, match="metric template errors not found in namespace test"):
        await KubeTemplates(kube_client, (METRIC_TEMPLATES,)).get("errors", NAMESPACE)


async def test_credentials_are_a_token_or_a_username_and_password(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, secret("token", token="s3cret"))
    create(kube_emulator, secret("basic", username="coalmine", password="pw"))
    create(kube_emulator, secret("empty", other="x"))
    credentials = KubeCredentials(KubeSecrets(kube_client))

    assert await credentials.get("token", NAMESPACE) == Credentials(token="s3cret")
    assert await credentials.get("basic", NAMESPACE) == Credentials(
        username="coalmine", password="pw"
    )
    with pytest.raises(CoalmineError, match="secret empty in test: needs the key token"):
        await credentials.get("empty", NAMESPACE)
