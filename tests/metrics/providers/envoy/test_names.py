"""Envoy cluster names: DNS labels joined by `_`, the names the Envoy built-ins select."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coalmine.api.canary import Canary
from coalmine.local.envoy import model
from coalmine.metrics.builtins import MESHES, Role
from coalmine.metrics.providers.envoy.names import cluster_name
from coalmine.metrics.templating import TemplateContext, render
from coalmine.routing.virtual_service import canary_host, primary_host
from tests.engine.builders import canary


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


@pytest.mark.parametrize(
    ("role", "host"), [(Role.CANARY, canary_host), (Role.PRIMARY, primary_host)]
)
def test_the_data_plane_and_the_envoy_builtins_name_a_cluster_alike(
    role: Role, host: Callable[[Canary], str]
) -> None:
    subject = canary(name="web", namespace="shop", service={"port": 80, "name": "front"})
    assert model.cluster_name is cluster_name
    query = render(
        MESHES["envoy"][role]["request-rate"],
        TemplateContext.for_interval(subject, "1m"),
        source="built-in",
    )
    assert f'envoy_cluster_name="{cluster_name("shop", host(subject))}"' in query
