"""deploy/loadtester: the manifests run the load tester the way the code serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import yaml
from typer.testing import CliRunner

from coalmine.cli.main import app

DEPLOY = Path(__file__).parents[2] / "deploy" / "loadtester"


def manifest(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


async def test_the_deployment_runs_the_cli_and_probes_what_the_server_serves(
    loadtester: str,
) -> None:
    pod = manifest("deployment.yaml")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [port] = container["ports"]
    args = container["args"]
    assert args[0] == "loadtester"
    assert args[args.index("--port") + 1] == str(port["containerPort"])
    assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0  # options the CLI takes

    service = manifest("service.yaml")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert service["spec"]["selector"].items() <= pod_labels().items()

    probe = container["readinessProbe"]["httpGet"]
    assert probe == container["livenessProbe"]["httpGet"]
    async with aiohttp.ClientSession() as session, session.get(loadtester + probe["path"]) as got:
        assert got.status == 200

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]


def pod_labels() -> dict[str, str]:
    labels: dict[str, str] = manifest("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    return labels
