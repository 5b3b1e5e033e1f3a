"""Every object that installs coalmine in a cluster, built from one set of options.

This is the one source of truth: `coalmine install` applies these objects, the
kustomize base under `deploy/` is generated from them (`scripts/generate-deploy`), and a
test renders the Helm chart with real Helm and compares it with them.

The controller serves its Prometheus metrics on port 8080 (`/metrics`) and its health
on port 8081 (`/healthz`, both probes). It runs as UID 10001 (the image's user) with a
read-only root filesystem and a writable `/tmp`, under the "restricted" Pod Security
Standard, which the Namespace enforces.

With `loadtester_token_secret`, the controller reads `COALMINE_LOADTESTER_TOKEN` from
that Secret (key `token`) and sends it to the load tester. With `loadtester`, the load
tester runs next to the controller (Deployment and Service `loadtester`, as
deploy/loadtester but in the controller's namespace) and reads the same Secret: one
Secret for both (`coalmine loadtester --enable-commands` requires a token).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coalmine import __version__
from coalmine.api.common import FLAGGER_GROUP
from coalmine.kube.install import rbac
from coalmine.kube.install.crds import PART_OF, custom_resource_definitions

__all__ = [
    "DEFAULT_IMAGE",
    "HEALTH_PORT",
    "LOADTESTER_TOKEN_KEY",
    "LOADTESTER_TOKEN_SECRET",
    "METRICS_PORT",
    "RUN_AS_USER",
    "InstallOptions",
    "controller_args",
    "install_objects",
    "loadtester_objects",
    "loadtester_token_env",
]

Object = dict[str, Any]

DEFAULT_IMAGE = f"ghcr.io/coalmine/coalmine:{__version__}"
METRICS_PORT = 8080
HEALTH_PORT = 8081
RUN_AS_USER = 10001
"""The non-root user of the image (see the Dockerfile)."""
LOADTESTER_TOKEN_ENV = "COALMINE_LOADTESTER_TOKEN"  # noqa: S105 - a variable name
LOADTESTER_TOKEN_SECRET = "loadtester-token"  # noqa: S105 - a Secret's name
"""The Secret deploy/loadtester and the kustomize overlay `loadtester-token` read."""
LOADTESTER_TOKEN_KEY = "token"  # noqa: S105 - a key name
"""The key of the load tester's token in its Secret (deploy/loadtester reads the same)."""

RESOURCES = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


@dataclass(frozen=True)
class InstallOptions:
    """What varies between installations; the defaults are the kustomize base."""

    namespace: str = "coalmine-system"
    """Where the controller runs (its Deployment, ServiceAccount, Service and Lease)."""
    name: str = "coalmine"
    """Name of the controller's objects (and prefix of its cluster-wide RBAC objects)."""
    image: str = DEFAULT_IMAGE
    mesh_provider: str = "istio"
    metrics_server: str = "http://prometheus.istio-system:9090"
    """Prometheus that canaries query unless their MetricTemplate names another."""
    watch_namespaces: tuple[str, ...] = ()
    """Namespaces whose canaries the controller reconciles; empty means all of them."""
    log_level: str = "info"
    log_json: bool = True
    leader_elect: bool = True
    """Hold a Lease so that only one replica acts; makes rolling upgrades safe."""
    shards: int = 1
    """Above 1: `--shards`, the canaries split among the replicas (a Lease per shard)."""
    flagger_compat: bool = False
    """Also reconcile flagger.app resources (grants the rights for them too)."""
    flagger_crds: bool = False
    """Also install coalmine's schema of the flagger.app CRDs (for clusters without Flagger)."""
    replicas: int = 1
    loadtester_token_secret: str = ""
    """A Secret (key `token`) in the controller's namespace whose value the controller
    sends to the load tester as a bearer token (and the load tester of `loadtester`
    requires); empty: none."""
    loadtester: bool = False
    """Also run coalmine's load tester, Deployment and Service `loadtester`, here."""
    loadtester_commands: bool = False
    """Its `cmd` and `bash` tasks (`--enable-commands`); needs `loadtester_token_secret`."""
    resources: dict[str, dict[str, str]] = field(default_factory=lambda: RESOURCES)

    def __post_init__(self) -> None:
        if self.loadtester_commands and not (self.loadtester and self.loadtester_token_secret):
            raise ValueError(
                "loadtester_commands needs loadtester (the load tester deployed) and "
                "loadtester_token_secret (the token it requires)"
            )

    @property
    def labels(self) -> dict[str, str]:
        return {
            **PART_OF,
            "app.kubernetes.io/name": "coalmine",
            "app.kubernetes.io/instance": self.name,
        }

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "coalmine", "app.kubernetes.io/instance": self.name}


def install_objects(options: InstallOptions) -> list[Object]:
    """Everything to apply, in an order the API server accepts (CRDs and Namespace first)."""
    objects = custom_resource_definitions()
    if options.flagger_crds:
        objects += custom_resource_definitions(FLAGGER_GROUP)
    return [
        *objects,
        namespace(options),
        service_account(options),
        *rbac_objects(options),
        metrics_service(options),
        deployment(options),
        *(loadtester_objects(options) if options.loadtester else []),
    ]


def _meta(options: InstallOptions, name: str, namespaced: bool = True) -> Object:
    meta: Object = {"name": name}
    if namespaced:
        meta["namespace"] = options.namespace
    meta["labels"] = dict(options.labels)
    return meta


def namespace(options: InstallOptions) -> Object:
    meta = _meta(options, options.namespace, namespaced=False)
    meta["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def service_account(options: InstallOptions) -> Object:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(options, options.name)}


def rbac_objects(options: InstallOptions) -> list[Object]:
    """Roles and their bindings, each set as narrow as the options allow (see kube.install.rbac)."""
    watches_all = not options.watch_namespaces
    cluster = f"{options.name}-cluster"
    objects = [
        _cluster_role(options, cluster, rbac.cluster_permissions(watches_all)),
        _cluster_binding(options, cluster),
        _cluster_role(options, options.name, rbac.WORKLOAD),
        *_workload_bindings(options, options.name),
    ]
    if options.flagger_compat:
        flagger = f"{options.name}-flagger"
        objects += [_cluster_role(options, flagger, rbac.FLAGGER)]
        objects += _workload_bindings(options, flagger)
    if options.leader_elect:
        objects += _leader_election(options)
    return objects


def _rules(permissions: Iterable[rbac.Permission]) -> list[Object]:
    return [permission.to_rule() for permission in permissions]


def _cluster_role(
    options: InstallOptions, name: str, permissions: Iterable[rbac.Permission]
) -> Object:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(options, name, namespaced=False),
        "rules": _rules(permissions),
    }


def _subjects(options: InstallOptions) -> list[Object]:
    return [{"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}]


def _cluster_binding(options: InstallOptions, role: str) -> Object:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(options, role, namespaced=False),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": _subjects(options),
    }


def _workload_bindings(options: InstallOptions, role: str) -> list[Object]:
    """Cluster-wide when watching all namespaces, else one RoleBinding per watched one."""
    if not options.watch_namespaces:
        return [_cluster_binding(options, role)]
    bindings = []
    for watched in options.watch_namespaces:
        meta = _meta(options, role)
        meta["namespace"] = watched
        bindings.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": _subjects(options),
            }
        )
    return bindings


def _leader_election(options: InstallOptions) -> list[Object]:
    name = f"{options.name}-leader-election"
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(options, name),
            "rules": _rules(rbac.LEADER_ELECTION),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(options, name),
            "roleRef": role_ref,
            "subjects": _subjects(options),
        },
    ]


def metrics_service(options: InstallOptions) -> Object:
    port = {"name": "http-metrics", "port": METRICS_PORT, "targetPort": "metrics"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(options, options.name),
        "spec": {"selector": dict(options.selector), "ports": [{**port, "protocol": "TCP"}]},
    }


def controller_args(options: InstallOptions) -> list[str]:
    """The `coalmine controller` command line; the flags the controller must accept."""
    args = ["controller", "--metrics-addr", f":{METRICS_PORT}", "--health-addr", f":{HEALTH_PORT}"]
    args += ["--mesh-provider", options.mesh_provider, "--metrics-server", options.metrics_server]
    for watched in options.watch_namespaces:
        args += ["--namespace", watched]
    args += ["--log-level", options.log_level]
    switches = (
        ("--log-json", options.log_json),
        ("--leader-elect", options.leader_elect),
        ("--flagger-compat", options.flagger_compat),
    )
    args += [flag for flag, on in switches if on]
    return args + (["--shards", str(options.shards)] if options.shards > 1 else [])


def deployment(options: InstallOptions) -> Object:
    template_meta = {
        "labels": dict(options.labels),
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": "/metrics",
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options, options.name),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": dict(options.selector)},
            "template": {"metadata": template_meta, "spec": _pod_spec(options)},
        },
    }


def _pod_spec(options: InstallOptions) -> Object:
    return {
        "serviceAccountName": options.name,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(options)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _container(options: InstallOptions) -> Object:
    health = {"httpGet": {"path": "/healthz", "port": "health"}, "timeoutSeconds": 5}
    return {
        "name": "controller",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": controller_args(options),
        "env": _env(options),
        "ports": [
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": {**health, "initialDelaySeconds": 10, "periodSeconds": 10},
        "readinessProbe": {**health, "periodSeconds": 5},
        "resources": {kind: dict(values) for kind, values in options.resources.items()},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
    }


def _env(options: InstallOptions) -> list[Object]:
    env = [
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
    ]
    if options.loadtester_token_secret:
        env.append(loadtester_token_env(options.loadtester_token_secret))
    return env


def loadtester_token_env(secret: str) -> Object:
    """COALMINE_LOADTESTER_TOKEN from `secret`: required, so that a missing Secret stops the
    pod from starting instead of sending no token."""
    reference = {"name": secret, "key": LOADTESTER_TOKEN_KEY}
    return {"name": LOADTESTER_TOKEN_ENV, "valueFrom": {"secretKeyRef": reference}}


def _field_env(name: str, path: str) -> Object:
    """An environment variable from the downward API (the Lease's namespace and holder)."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


LOADTESTER = "loadtester"
LOADTESTER_PORT = 8080


def loadtester_objects(options: InstallOptions) -> list[Object]:
    """coalmine's load tester next to the controller: as deploy/loadtester, one replica
    (gates live in memory), commands only with `loadtester_commands`."""
    selector = {"app.kubernetes.io/name": LOADTESTER, "app.kubernetes.io/instance": options.name}
    labels = {**PART_OF, **selector}
    meta: Object = {"name": LOADTESTER, "namespace": options.namespace, "labels": labels}
    service: Object = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    pod: Object = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_loadtester_container(options)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
    }
    deployment: Object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": dict(meta),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(selector)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }
    return [service, deployment]


def _loadtester_container(options: InstallOptions) -> Object:
    args = ["loadtester", "--host", "0.0.0.0", "--port", str(LOADTESTER_PORT)]  # noqa: S104
    env: list[Object] = [{"name": "HOME", "value": "/tmp"}]  # noqa: S108 - an emptyDir
    if options.loadtester_token_secret:
        env.append(loadtester_token_env(options.loadtester_token_secret))
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    return {
        "name": LOADTESTER,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args + (["--enable-commands"] if options.loadtester_commands else []),
        "env": env,
        "ports": [{"name": "http", "containerPort": LOADTESTER_PORT, "protocol": "TCP"}],
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
    }
