"""The controller's rights: each rule has a reason, and the docs print the same table."""

from __future__ import annotations

from coalmine.kube.install import rbac
from coalmine.kube.install.deploy_files import RBAC_DOC, with_rbac_table
from tests.kube.tools import REPO

KNOWN_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


def all_permissions() -> list[rbac.Permission]:
    return [
        *rbac.WORKLOAD,
        *rbac.FLAGGER,
        *rbac.cluster_permissions(watches_all=False),
        *rbac.LEADER_ELECTION,
    ]


def test_every_rule_has_a_reason_and_plain_verbs() -> None:
    for permission in all_permissions():
        assert len(permission.why) > 20, permission
        assert set(permission.verbs) <= KNOWN_VERBS, permission  # no wildcards, no escalate


def test_nothing_wider_than_needed() -> None:
    rules = {
        (g, r): set(p.verbs) for p in all_permissions() for g in p.api_groups for r in p.resources
    }
    config_verbs = {"get", "list", "watch", "create", "update", "patch"}  # no delete: GC does
    assert rules[("", "secrets")] == rules[("", "configmaps")] == config_verbs
    assert rules[("apiextensions.k8s.io", "customresourcedefinitions")] == {"get", "list", "watch"}
    assert ("networking.istio.io", "gateways") not in rules
    assert ("", "pods") not in rules
    assert not [key for key in rules if key[0] in ("kopf.dev", "zalando.org")]
    assert rules[("coalmine.dev", "canaries")].isdisjoint({"create", "delete"})


def test_namespaces_are_read_only_when_a_list_is_watched() -> None:
    assert rbac.NAMESPACES not in rbac.cluster_permissions(watches_all=True)
    assert rbac.NAMESPACES in rbac.cluster_permissions(watches_all=False)


def test_the_flagger_rules_are_the_coalmine_rules_on_the_other_group() -> None:
    ours = rbac.custom_resource_permissions("coalmine.dev")
    assert [(p.resources, p.verbs) for p in rbac.FLAGGER] == [(p.resources, p.verbs) for p in ours]
    assert {g for p in rbac.FLAGGER for g in p.api_groups} == {"flagger.app"}


def test_the_docs_show_the_current_table() -> None:
    doc = (REPO / RBAC_DOC).read_text()
    assert with_rbac_table(doc) == doc, "run scripts/generate-deploy"
    verbs = "get, list, watch, create, update, patch"
    assert f"| `coalmine` (watched namespaces) | core | configmaps, secrets | {verbs} |" in doc
