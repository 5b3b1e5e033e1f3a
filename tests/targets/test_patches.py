"""Merge patches that send only what changes, and whole truths where asked."""

from __future__ import annotations

from coalmine.targets.patches import manifest_of, merge_patch

VS = {
    "metadata": {"name": "podinfo", "labels": {"team": "web"}},
    "spec": {
        "hosts": ["*"],
        "exportTo": ["."],
        "http": [{"route": [{"weight": 100}, {"weight": 0}]}],
    },
}


def test_an_unchanged_object_needs_no_patch() -> None:
    assert merge_patch(VS, {"spec": {"hosts": ["*"]}}) == {}


def test_only_changed_values_are_sent_and_unmentioned_keys_are_kept() -> None:
    desired = {"spec": {"hosts": ["*"], "http": [{"route": [{"weight": 80}, {"weight": 20}]}]}}
    assert merge_patch(VS, desired) == {"spec": {"http": desired["spec"]["http"]}}


def test_under_a_replaced_path_missing_keys_are_removed() -> None:
    current = {"spec": {"replicas": 2, "template": {"metadata": {"labels": {"a": "1", "b": "2"}}}}}
    desired = {"spec": {"replicas": 2, "template": {"metadata": {"labels": {"a": "1"}}}}}
    assert merge_patch(current, desired) == {}
    assert merge_patch(current, desired, replaced=(("spec", "template"),)) == {
        "spec": {"template": {"metadata": {"labels": {"b": None}}}}
    }


def test_a_manifest_has_no_status_and_no_server_metadata() -> None:
    stored = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "x",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 2,
            "labels": {},
            "annotations": {"deployment.kubernetes.io/revision": "3", "team": "web"},
        },
        "spec": {"replicas": 1},
        "status": {"replicas": 1},
    }
    assert manifest_of(stored) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "annotations": {"team": "web"}},
        "spec": {"replicas": 1},
    }
