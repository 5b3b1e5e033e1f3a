"""`coalmine install`: the manifests with --dry-run, and a real installation into the emulator."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from coalmine.cli.main import app
from coalmine.kube.install.manifests import InstallOptions, install_objects
from tests.kube_emulator import KubeEmulator

runner = CliRunner()


def dry_run(*args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["install", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    return [doc for doc in yaml.safe_load_all(result.output) if doc]


def test_dry_run_prints_the_install_objects() -> None:
    assert dry_run() == install_objects(InstallOptions())


def test_dry_run_as_json_is_a_list() -> None:
    result = runner.invoke(app, ["install", "--dry-run", "-o", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["kind"] == "List"
    assert document["items"] == install_objects(InstallOptions())


def test_options_reach_the_objects() -> None:
    objects = dry_run(
        "--namespace", "canaries", "--watch-namespace", "team-a", "--flagger-crds",
        "--image", "registry.local/coalmine:dev", "--metrics-server", "http://prom:9090",
        "--loadtester-token-secret", "lt",
    )  # fmt: skip
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["metadata"]["namespace"] == "canaries"
    assert container["image"] == "registry.local/coalmine:dev"
    assert container["args"][-1] == "--flagger-compat"  # implied by --flagger-crds
    assert container["args"][9:11] == ["--namespace", "team-a"]
    assert "http://prom:9090" in container["args"]
    token = {"secretKeyRef": {"name": "lt", "key": "token"}}
    assert {"name": "COALMINE_LOADTESTER_TOKEN", "valueFrom": token} in container["env"]
    crds = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert "canaries.flagger.app" in crds
    placed = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "RoleBinding"
    }
    assert ("team-a", "coalmine") in placed and ("team-a", "coalmine-flagger") in placed


def test_the_load_tester_with_commands_reads_the_controllers_secret() -> None:
    objects = dry_run(
        "--loadtester", "--loadtester-commands", "--loadtester-token-secret", "lt",
    )  # fmt: skip
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    token = {"name": "COALMINE_LOADTESTER_TOKEN",
             "valueFrom": {"secretKeyRef": {"name": "lt", "key": "token"}}}  # fmt: skip
    for name in ("coalmine", "loadtester"):
        assert token in deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]


def test_commands_without_a_token_are_refused() -> None:
    result = CliRunner().invoke(
        app, ["install", "--dry-run", "--loadtester", "--loadtester-commands"]
    )
    assert result.exit_code == 2
    assert "--loadtester-token-secret" in result.output


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["install", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--dry-run" in result.output


async def coalmine(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coalmine", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_install_applies_and_reports_one_line_per_object(
    kube_emulator: KubeEmulator, kubeconfig: Path
) -> None:
    code, out, err = await coalmine("install", "--kubeconfig", str(kubeconfig))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(install_objects(InstallOptions()))
    assert lines[0] == "customresourcedefinition.apiextensions.k8s.io/canaries.coalmine.dev created"
    assert "namespace/coalmine-system created" in lines
    assert lines[-1] == "deployment.apps/coalmine created"
    code, out, err = await coalmine("install", "--kubeconfig", str(kubeconfig))
    assert code == 0, err
    assert {line.rsplit(" ", 1)[1] for line in out.splitlines()} == {"unchanged"}


async def test_no_cluster_exits_3(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "kind-dev", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "kind-dev",
            }
        )
    )
    code, out, err = await coalmine("install", "--kubeconfig", str(config))
    assert code == 3
    assert out == ""
    assert "cannot reach the Kubernetes API of context 'kind-dev'" in err
