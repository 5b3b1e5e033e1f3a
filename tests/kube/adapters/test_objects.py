"""Merge patches between what is and what should be: only differences, removals as null."""

from __future__ import annotations

from coalmine.kube.adapters.objects import UNCHANGED, merge_patch_between, owned_fields_patch


def test_equal_values_need_no_patch() -> None:
    assert merge_patch_between({"a": [1, 2], "b": {"c": 1}}, {"a": [1, 2], "b": {"c": 1}}) is (
        UNCHANGED
    )


def test_maps_are_made_exact_key_by_key() -> None:
    current = {"app": "podinfo", "tier": "web", "nested": {"keep": 1, "drop": 2}}
    desired = {"app": "podinfo-primary", "nested": {"keep": 1}}

    assert merge_patch_between(current, desired) == {
        "app": "podinfo-primary",
        "tier": None,
        "nested": {"drop": None},
    }


def test_lists_are_replaced_whole() -> None:
    assert merge_patch_between({"l": [1, 2, 3]}, {"l": [1, 2]}) == {"l": [1, 2]}


def test_only_owned_fields_are_compared() -> None:
    current = {"selector": {"app": "x"}, "clusterIP": "10.0.0.1", "ports": [{"port": 80}]}
    owned = {"selector": {"app": "x-primary"}, "ports": [{"port": 80}], "trafficPolicy": None}

    assert owned_fields_patch(current, owned) == {"selector": {"app": "x-primary"}}


def test_an_owned_field_that_must_go_is_nulled() -> None:
    assert owned_fields_patch({"trafficPolicy": {"tls": {}}}, {"trafficPolicy": None}) == {
        "trafficPolicy": None
    }
