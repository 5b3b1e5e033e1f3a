"""What the controller may do in the cluster, rule by rule, and why.

Each `Permission` carries its reason; `docs/install.md` prints the same table (a test
keeps them equal). The rules fall in four sets, each granted as narrowly as it can be:

- `WORKLOAD`: the objects of a canary's namespace. A ClusterRole, bound cluster-wide
  when the controller watches every namespace, or by a RoleBinding in each watched
  namespace when it watches a list of them.
- `FLAGGER`: the same for `flagger.app` resources, only with `--flagger-compat`.
- `cluster_permissions()`: what kopf reads cluster-wide (CRDs; namespaces when it
  watches a list of them). Always a ClusterRole.
- `LEADER_ELECTION`: the Lease, a Role in the controller's own namespace.

Left out on purpose: Gateways (a VirtualService names them; nothing reads them), Pods
and ReplicaSets (readiness comes from the Deployment's status), kopf's peering
resources (the controller runs kopf standalone and elects a leader with a Lease),
and `delete` on ConfigMaps and Secrets (the `-primary` copies go with their Canary, by
garbage collection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coalmine.api.common import COALMINE_GROUP, FLAGGER_GROUP

__all__ = [
    "CRDS",
    "FLAGGER",
    "LEADER_ELECTION",
    "NAMESPACES",
    "WORKLOAD",
    "Permission",
    "cluster_permissions",
    "custom_resource_permissions",
    "markdown_table",
]

READ = ("get", "list", "watch")
MANAGE = (*READ, "create", "update", "patch", "delete")


@dataclass(frozen=True)
class Permission:
    """One RBAC rule and the reason the controller needs it."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def to_rule(self) -> dict[str, Any]:
        return {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


def custom_resource_permissions(group: str) -> tuple[Permission, ...]:
    """What the controller does with the Canary, MetricTemplate and AlertProvider of `group`."""
    return (
        Permission(
            (group,),
            ("canaries",),
            ("get", "list", "watch", "update", "patch"),
            "Watch canaries; kopf patches its finalizer (on every canary, so that deleting "
            "one keeps what serves) and progress annotations on them.",
        ),
        Permission(
            (group,),
            ("canaries/status",),
            ("get", "update", "patch"),
            "Write the canary's status (phase, weight, failed checks): the engine's state.",
        ),
        Permission(
            (group,),
            ("canaries/finalizers",),
            ("update",),
            "Make the canary the owner of the objects it creates "
            "(blockOwnerDeletion needs this where OwnerReferencesPermissionEnforcement is on).",
        ),
        Permission(
            (group,),
            ("metrictemplates", "alertproviders"),
            READ,
            "Read the metric templates and alert providers that canaries refer to.",
        ),
    )


WORKLOAD = (
    Permission(
        ("apps",),
        ("deployments",),
        MANAGE,
        "Read the target's revision, create the -primary Deployment, copy the canary's "
        "template to it on promotion, scale the target to zero and back, create and delete "
        "the judge's -baseline Deployment; on a canary's deletion, list what it owns and keep "
        "it (drop the owner reference) or delete it.",
    ),
    Permission(
        ("",),
        ("services",),
        MANAGE,
        "Create the apex, -primary and -canary Services that the routes point at.",
    ),
    Permission(
        ("autoscaling",),
        ("horizontalpodautoscalers",),
        MANAGE,
        "Copy the target's autoscaler (spec.autoscalerRef) for the -primary Deployment.",
    ),
    Permission(
        ("networking.istio.io",),
        ("virtualservices", "destinationrules"),
        MANAGE,
        "Write the routes that split traffic by weight, header or cookie, and the subsets.",
    ),
    Permission(
        ("gateway.networking.k8s.io",),
        ("httproutes",),
        MANAGE,
        "Write the HTTPRoute of a Canary with the gatewayapi provider.",
    ),
    *custom_resource_permissions(COALMINE_GROUP),
    Permission(
        ("", "events.k8s.io"),
        ("events",),
        ("get", "create", "patch"),
        "Record what happened to a canary as Events, a repeat counted on the existing Event "
        "(read back when the controller restarted); kopf posts core/v1 Events too.",
    ),
    Permission(
        ("",),
        ("configmaps", "secrets"),
        ("get", "list", "watch", "create", "update", "patch"),
        "Config tracking: read the ConfigMaps and Secrets the target's pods use (their "
        "content is part of its revision) and write their -primary copies for the primary; "
        "list only coalmine's copies (by its managed-by label) and patch them to keep them "
        "when a canary is deleted. Also read the Secret a MetricTemplate or AlertProvider "
        "secretRef names.",
    ),
)
"""Rules in the namespaces the controller watches."""

FLAGGER = custom_resource_permissions(FLAGGER_GROUP)
"""With `--flagger-compat`: the same rights on Flagger's group."""

CRDS = Permission(
    ("apiextensions.k8s.io",),
    ("customresourcedefinitions",),
    READ,
    "kopf watches CRDs to notice when the resources it serves appear or change.",
)

NAMESPACES = Permission(
    ("",),
    ("namespaces",),
    READ,
    "Only when watching a list of namespaces: kopf lists and watches namespaces to "
    "match them (watching all namespaces needs no such rule).",
)


def cluster_permissions(watches_all: bool) -> tuple[Permission, ...]:
    """Cluster-scoped rules; namespaces only when a list of them is watched."""
    return (CRDS,) if watches_all else (CRDS, NAMESPACES)


LEADER_ELECTION = (
    Permission(
        ("coordination.k8s.io",),
        ("leases",),
        ("get", "list", "create", "update", "patch"),
        "Only with --leader-elect, only in the controller's namespace: hold the Lease "
        "that makes one replica the active one (with --shards, a Lease per shard, and "
        "list them to count the replicas alive).",
    ),
)


def markdown_table() -> str:
    """Every rule as a Markdown table (docs/install.md embeds it; a test keeps it current)."""
    sets = (
        ("`coalmine` (watched namespaces)", WORKLOAD),
        ("`coalmine-flagger` (with --flagger-compat)", FLAGGER),
        ("`coalmine-cluster` (cluster)", (CRDS, NAMESPACES)),
        ("`coalmine-leader-election` (own namespace)", LEADER_ELECTION),
    )
    lines = ["| role | API group | resources | verbs | why |", "|---|---|---|---|---|"]
    for role, permissions in sets:
        for p in permissions:
            groups = ", ".join(g or "core" for g in p.api_groups)
            lines.append(
                f"| {role} | {groups} | {', '.join(p.resources)} | {', '.join(p.verbs)} | {p.why} |"
            )
    return "\n".join(lines) + "\n"
