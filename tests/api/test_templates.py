"""Which container a deploy changes, and how a release is described."""

from __future__ import annotations

import pytest

from coalmine.api.templates import container_index, template_summary, with_env
from coalmine.errors import CoalmineError

ONE = {"spec": {"containers": [{"name": "app", "env": [{"name": "VERSION", "value": "1"}]}]}}
TWO = {"spec": {"containers": [{"name": "app", "image": "a:1"}, {"name": "proxy", "image": "p:1"}]}}


def test_the_only_container_is_picked_without_asking() -> None:
    assert container_index(ONE, None, "deployment x") == 0


def test_several_containers_need_a_name_and_a_wrong_name_lists_them() -> None:
    with pytest.raises(CoalmineError, match=r"has 2 containers \(app, proxy\); name one"):
        container_index(TWO, None, "deployment x")
    with pytest.raises(CoalmineError, match="has no container 'web'; its containers: app, proxy"):
        container_index(TWO, "web", "deployment x")
    assert container_index(TWO, "proxy", "deployment x") == 1


def test_env_replaces_existing_names_and_appends_new_ones() -> None:
    changed = with_env(ONE, {"VERSION": "2", "DEBUG": "1"}, None, "deployment x")
    assert changed["spec"]["containers"][0]["env"] == [
        {"name": "VERSION", "value": "2"},
        {"name": "DEBUG", "value": "1"},
    ]
    assert ONE["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "1"}]


def test_a_release_is_its_images_else_its_version() -> None:
    assert template_summary(TWO) == "a:1, p:1"
    assert template_summary(ONE) == "VERSION=1"
