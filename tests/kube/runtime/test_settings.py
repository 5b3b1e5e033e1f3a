"""The controller's settings: addresses as flags write them, loud errors, lease proportions."""

from __future__ import annotations

import pytest

from coalmine.errors import CoalmineError
from coalmine.kube.runtime.settings import (
    Address,
    AnalysisSettings,
    LeaderSettings,
    default_identity,
)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (":8080", Address("0.0.0.0", 8080)),
        ("127.0.0.1:0", Address("127.0.0.1", 0)),
        ("[::]:9090", Address("::", 9090)),
    ],
)
def test_addresses(text: str, address: Address) -> None:
    assert Address.parse(text, flag="--metrics-addr") == address


@pytest.mark.parametrize("text", ["8080", "host:", ":http", ":70000"])
def test_bad_addresses_name_the_flag(text: str) -> None:
    with pytest.raises(CoalmineError, match="--health-addr: expected"):
        Address.parse(text, flag="--health-addr")


@pytest.mark.parametrize("provider", ["envoy", "linkerd"])
def test_a_mesh_provider_without_a_router_lists_the_routers(provider: str) -> None:
    with pytest.raises(CoalmineError) as raised:
        AnalysisSettings(mesh_provider=provider)
    assert str(raised.value) == (
        f"--mesh-provider: provider {provider!r} has no router in Kubernetes; routers: istio, "
        "kubernetes, gatewayapi, gatewayapi:v1, gatewayapi:v1beta1."
    )


@pytest.mark.parametrize("provider", ["gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"])
def test_the_gateway_api_is_a_mesh_provider(provider: str) -> None:
    assert AnalysisSettings(mesh_provider=provider).mesh_provider == provider


def test_a_shorter_lease_keeps_client_gos_proportions() -> None:
    leader = LeaderSettings.scaled(enabled=True, lease_duration=3)
    assert (leader.lease_duration, leader.renew_deadline, leader.retry_period) == (3, 2, 0.4)


def test_the_pod_name_is_the_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "coalmine-7d9f-abcde")
    assert default_identity() == "coalmine-7d9f-abcde"
    monkeypatch.delenv("POD_NAME")
    assert default_identity() != default_identity()  # two processes on one host stay apart
