"""The manual canary's objects and the labelling convention."""

from __future__ import annotations

import pytest

from coalmine.errors import CoalmineError, NotFound
from coalmine.routing.manual import find_release, promoted, virtual_service, with_weights


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
