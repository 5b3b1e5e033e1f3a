"""The install objects: a locked-down controller pod, narrow RBAC, and the flags it gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from coalmine import __version__
from coalmine.kube.install.manifests import (
    DEFAULT_IMAGE,
    HEALTH_PORT,
    LOADTESTER_TOKEN_KEY,
    METRICS_PORT,
    RUN_AS_USER,
    InstallOptions,
    controller_args,
    install_objects,
    loadtester_objects,
)


def objects(**options: Any) -> dict[tuple[str, str], dict[str, Any]]:
    found = install_objects(InstallOptions(**options))
    return {
        (o["kind"], o["metadata"].get("namespace", "") + "/" + o["metadata"]["name"]): o
        for o in found
    }


def the(kind: str, **options: Any) -> list[dict[str, Any]]:
    return [o for (k, _), o in objects(**options).items() if k == kind]


def container(**options: Any) -> dict[str, Any]:
    [deployment] = the("Deployment", **options)
    [controller] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(controller)


def test_crds_and_the_namespace_come_first() -> None:
    kinds = [o["kind"] for o in install_objects(InstallOptions())]
    assert kinds[:4] == ["CustomResourceDefinition"] * 3 + ["Namespace"]
    assert kinds[-1] == "Deployment"


def test_the_controller_runs_locked_down() -> None:
    [deployment] = the("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == RUN_AS_USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container()["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container()["volumeMounts"]
    assert container()["resources"]["limits"]["memory"] == "512Mi"
    [namespace] = the("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_probes_and_metrics_use_the_committed_ports() -> None:
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert (
        ports
        == {"metrics": METRICS_PORT, "health": HEALTH_PORT}
        == {"metrics": 8080, "health": 8081}
    )
    for probe in ("livenessProbe", "readinessProbe"):
        assert container()[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    [service] = the("Service")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert container()["image"] == f"ghcr.io/coalmine/coalmine:{__version__}"


def test_the_controller_flags() -> None:
    assert controller_args(InstallOptions()) == [
        "controller", "--metrics-addr", ":8080", "--health-addr", ":8081",
        "--mesh-provider", "istio", "--metrics-server", "http://prometheus.istio-system:9090",
        "--log-level", "info", "--log-json", "--leader-elect",
    ]  # fmt: skip
    args = controller_args(
        InstallOptions(
            watch_namespaces=("a", "b"), log_json=False, leader_elect=False, flagger_compat=True
        )
    )
    assert args[args.index("--log-level") - 4 :] == [
        "--namespace", "a", "--namespace", "b", "--log-level", "info", "--flagger-compat",
    ]  # fmt: skip


def test_watching_all_namespaces_binds_cluster_wide() -> None:
    bindings = {o["metadata"]["name"] for o in the("ClusterRoleBinding")}
    assert bindings == {"coalmine", "coalmine-cluster"}
    assert [o["metadata"]["namespace"] for o in the("RoleBinding")] == ["coalmine-system"]


def test_watching_a_list_binds_in_those_namespaces_only() -> None:
    options = {"watch_namespaces": ("team-a", "team-b"), "flagger_compat": True}
    assert {o["metadata"]["name"] for o in the("ClusterRoleBinding", **options)} == {
        "coalmine-cluster"
    }
    placed = {
        (o["metadata"]["namespace"], o["roleRef"]["name"]) for o in the("RoleBinding", **options)
    }
    assert placed == {
        ("team-a", "coalmine"), ("team-b", "coalmine"),
        ("team-a", "coalmine-flagger"), ("team-b", "coalmine-flagger"),
        ("coalmine-system", "coalmine-leader-election"),
    }  # fmt: skip
    [cluster] = [
        o for o in the("ClusterRole", **options) if o["metadata"]["name"] == "coalmine-cluster"
    ]
    assert {"namespaces"} in [set(rule["resources"]) for rule in cluster["rules"]]


def test_no_leader_election_no_lease_rights() -> None:
    assert the("Role", leader_elect=False) == []
    assert "--leader-elect" not in controller_args(InstallOptions(leader_elect=False))


def test_flagger_crds_only_on_request() -> None:
    names = [o["metadata"]["name"] for o in the("CustomResourceDefinition", flagger_crds=True)]
    assert "canaries.flagger.app" in names and "canaries.coalmine.dev" in names
    assert "canaries.flagger.app" not in [
        o["metadata"]["name"] for o in the("CustomResourceDefinition", flagger_compat=True)
    ]


def test_every_object_says_it_is_part_of_coalmine() -> None:
    for obj in install_objects(InstallOptions(flagger_crds=True, flagger_compat=True)):
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "coalmine"


def test_the_load_testers_token_reaches_the_controller_only_when_asked() -> None:
    def token_env(**options: Any) -> list[dict[str, Any]]:
        env = container(**options)["env"]
        return [e for e in env if e["name"] == "COALMINE_LOADTESTER_TOKEN"]

    assert token_env() == []
    [env] = token_env(loadtester_token_secret="lt")
    assert env["valueFrom"] == {"secretKeyRef": {"name": "lt", "key": LOADTESTER_TOKEN_KEY}}
    assert "optional" not in env["valueFrom"]["secretKeyRef"]  # a missing Secret stops the pod


SHIPPED_LOADTESTER = Path(__file__).parents[3] / "deploy" / "loadtester" / "deployment.yaml"


def test_the_load_tester_next_to_the_controller_runs_as_deploy_loadtester_does() -> None:
    options = InstallOptions(loadtester=True, loadtester_token_secret="lt")
    [service, deployment] = loadtester_objects(options)
    shipped = yaml.safe_load(SHIPPED_LOADTESTER.read_text())
    ours, theirs = deployment["spec"], shipped["spec"]
    assert (ours["replicas"], ours["strategy"]) == (theirs["replicas"], theirs["strategy"])
    pod, shipped_pod = ours["template"]["spec"], theirs["template"]["spec"]
    for key in ("automountServiceAccountToken", "securityContext", "volumes"):
        assert pod[key] == shipped_pod[key], key
    [mine], [their] = pod["containers"], shipped_pod["containers"]
    for key in ("args", "readinessProbe", "livenessProbe", "resources", "volumeMounts"):
        assert mine[key] == their[key], key
    assert mine["securityContext"].items() >= their["securityContext"].items()
    assert mine["image"] == DEFAULT_IMAGE
    assert mine["env"][-1]["valueFrom"] == {"secretKeyRef": {"name": "lt", "key": "token"}}
    assert service["spec"]["selector"] == ours["selector"]["matchLabels"]
    assert service["metadata"]["namespace"] == "coalmine-system"


def test_commands_need_the_load_tester_and_its_token() -> None:
    with pytest.raises(ValueError, match="loadtester_commands needs"):
        InstallOptions(loadtester=True, loadtester_commands=True)
    commands = InstallOptions(
        loadtester=True, loadtester_commands=True, loadtester_token_secret="t"
    )
    [_, deployment] = loadtester_objects(commands)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][-1] == (
        "--enable-commands"
    )
    assert loadtester_objects(InstallOptions()) and "loadtester" not in [
        o["metadata"]["name"] for o in install_objects(InstallOptions())
    ]
