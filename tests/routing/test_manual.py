"""The manual canary's objects and the labelling convention."""

from __future__ import annotations

import pytest

from coalmine.api.gatewayapi import Gateway, HTTPRoute
from coalmine.errors import CoalmineError, NotFound
from coalmine.routing.manual import (
    find_release,
    http_route,
    init_objects,
    promoted,
    virtual_service,
    with_weights,
)


def deployment(name: str, release: str, version: str) -> dict:  # type: ignore[type-arg]
    labels = {"app": "podinfo", "release": release}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"v": version}},
                "spec": {"containers": [{"name": "app", "image": f"podinfo:{version}"}]},
            },
        },
    }


def test_weights_change_only_the_primary_and_canary_routes() -> None:
    vs = virtual_service("podinfo", "test", "*", 0)
    vs["spec"]["http"][0]["retries"] = {"attempts": 3}
    changed = with_weights(vs, 40)
    assert [d["weight"] for d in changed["spec"]["http"][0]["route"]] == [60, 40]
    assert changed["spec"]["http"][0]["retries"] == {"attempts": 3}
    assert [d["weight"] for d in vs["spec"]["http"][0]["route"]] == [100, 0]  # a copy


def test_weights_outside_0_100_and_foreign_virtual_services_are_refused() -> None:
    with pytest.raises(CoalmineError, match="between 0 and 100"):
        with_weights(virtual_service("podinfo", "test", "*", 0), 120)
    foreign = {"metadata": {"name": "x"}, "spec": {"http": [{"route": [{"destination": {}}]}]}}
    with pytest.raises(CoalmineError, match="coalmine manual init x"):
        with_weights(foreign, 20)


def test_the_primary_takes_the_canarys_template_with_its_own_release_label() -> None:
    result = promoted(deployment("p", "primary", "1"), deployment("c", "canary", "2"))
    template = result["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "podinfo", "release": "primary"}
    assert template["metadata"]["annotations"] == {"v": "2"}
    assert template["spec"]["containers"][0]["image"] == "podinfo:2"
    assert result["metadata"]["name"] == "p"


def test_releases_are_found_by_their_pod_labels() -> None:
    both = [deployment("p", "primary", "1"), deployment("c", "canary", "2")]
    assert find_release(both, "podinfo", "canary", "test")["metadata"]["name"] == "c"
    with pytest.raises(NotFound, match="no Deployment in namespace test has pods labelled"):
        find_release(both, "other", "canary", "test")
    with pytest.raises(CoalmineError, match="several Deployments"):
        find_release([*both, deployment("c2", "canary", "3")], "podinfo", "canary", "test")


APEX = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "selector": {"app": "podinfo"},
        "ports": [{"name": "http", "port": 80, "targetPort": 9898}],
    },
}


def test_the_gateway_api_init_writes_release_services_and_a_weighted_http_route() -> None:
    gateway, primary, canary, route = init_objects(
        "gatewayapi", "podinfo", "test", "app.example", apex=APEX, gateway_class="eg"
    )
    assert gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert gateway["spec"]["gatewayClassName"] == "eg"
    assert gateway["spec"]["listeners"][0]["hostname"] == "app.example"
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["spec"]["selector"] == {"app": "podinfo", "release": "primary"}
    assert canary["spec"]["selector"] == {"app": "podinfo", "release": "canary"}
    assert canary["spec"]["ports"] == APEX["spec"]["ports"]
    assert route["spec"]["hostnames"] == ["app.example"]
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["port"], b["weight"]) for b in backends] == [
        ("podinfo-primary", 80, 100),
        ("podinfo-canary", 80, 0),
    ]
    # every model default written out, so a second init changes nothing on a server
    HTTPRoute.model_validate(route)
    Gateway.model_validate(gateway)

    split = with_weights(route, 30)
    assert [b["weight"] for b in split["spec"]["rules"][0]["backendRefs"]] == [70, 30]
    assert route["spec"]["rules"][0]["backendRefs"][1]["weight"] == 0  # a copy


def test_an_http_route_without_the_release_backends_is_refused() -> None:
    route = http_route("podinfo", "test", "*", 80, 0)
    route["spec"]["rules"][0]["backendRefs"] = [{"name": "other", "port": 80}]
    with pytest.raises(CoalmineError, match="no backendRef to service podinfo-primary"):
        with_weights(route, 10)
    assert "hostnames" not in http_route("podinfo", "test", "*", 80, 0)["spec"]


def test_the_kubernetes_provider_switches_the_selector_whole_and_refuses_a_share() -> None:
    [initialized] = init_objects(
        "kubernetes", "podinfo", "test", "*", apex=APEX, gateway_class="istio"
    )
    assert initialized["spec"]["selector"] == {"app": "podinfo", "release": "primary"}
    assert with_weights(initialized, 100)["spec"]["selector"]["release"] == "canary"
    assert with_weights(initialized, 0)["spec"]["selector"]["release"] == "primary"
    with pytest.raises(CoalmineError, match="provider kubernetes has no weights"):
        with_weights(initialized, 20)
    with pytest.raises(CoalmineError, match="selects no release"):
        with_weights(APEX, 100)


def test_providers_that_build_on_the_service_need_it() -> None:
    for provider in ("gatewayapi", "kubernetes"):
        with pytest.raises(NotFound, match="service podinfo not found"):
            init_objects(provider, "podinfo", "test", "*", apex=None, gateway_class="istio")
    with pytest.raises(CoalmineError, match="--provider linkerd: use one of istio"):
        init_objects("linkerd", "podinfo", "test", "*", apex=APEX, gateway_class="istio")
