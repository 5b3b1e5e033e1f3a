"""The model's helpers: cluster naming and listener lookup."""

from __future__ import annotations

import pytest

from coalmine.local.envoy import DataPlane, cluster_name


def test_cluster_names_join_dns_labels_with_underscores() -> None:
    assert cluster_name("shop", "web-canary") == "shop_web-canary"
    assert cluster_name("shop", "web", "v2") == "shop_web_v2"


@pytest.mark.parametrize(
    ("namespace", "service", "wrong"),
    [
        ("shop", "web.v2", "service 'web.v2'"),
        ("Shop", "web", "namespace 'Shop'"),
        ("", "web", "namespace ''"),
    ],
)
def test_cluster_names_refuse_what_is_not_a_dns_label(
    namespace: str, service: str, wrong: str
) -> None:
    with pytest.raises(ValueError, match=f"{wrong} is not a DNS label"):
        cluster_name(namespace, service)


def test_an_unknown_listener_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no listener named 'gateway'"):
        DataPlane().listener("gateway")
