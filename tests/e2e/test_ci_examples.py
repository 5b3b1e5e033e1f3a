"""The CD examples under examples/ci run as written: each one's coalmine command line is
taken from the file and run against the API emulator (the timeout shortened).

No operator runs here, so a deploy gets no verdict: exit 2 (timed out) after the image
was changed, which shows the command line is valid and does what it says; the Argo CD
hook waits on a revision already promoted and exits 0.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from coalmine.kube.adapters.revision import pod_template_revision
from tests.fixtures.cli import invoke
from tests.fixtures.operator import canary, create, deployment, install_crds
from tests.kube_emulator import KubeEmulator

CI = Path(__file__).parents[2] / "examples" / "ci"
IMAGE = "registry.example.com/podinfo:abc123"
REPORT = "canary-report.html"
VARIABLES = {
    '"$IMAGE"': IMAGE,
    '"$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"': IMAGE,
    "registry.example.com/podinfo:${env.GIT_COMMIT}": IMAGE,
}


def github() -> str:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    step, kept = workflow["jobs"]["canary"]["steps"]
    assert kept["if"] == "always()" and kept["with"]["path"] == REPORT
    return next(line for line in step["run"].splitlines() if line.startswith("coalmine "))


def gitlab() -> str:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["canary"]
    assert job["artifacts"] == {"when": "always", "paths": [REPORT]}
    [line] = job["script"]
    return str(line)


def jenkins() -> str:
    text = (CI / "Jenkinsfile").read_text()
    found = re.search(r'script: "(coalmine [^"]+)"', text)
    assert found is not None
    assert f"archiveArtifacts(artifacts: '{REPORT}'" in text
    return found.group(1)


def argocd() -> list[str]:
    documents = yaml.safe_load_all((CI / "argocd-postsync-job.yaml").read_text())
    [job] = [d for d in documents if d["kind"] == "Job"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    [container] = job["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def runnable(line: str) -> list[str]:
    for variable, value in VARIABLES.items():
        line = line.replace(variable, value)
    args = shlex.split(line)
    assert args[0] == "coalmine"
    return args[1:]


def shortened(args: list[str]) -> list[str]:
    at = args.index("--timeout")
    return [*args[:at], "--timeout", "2s", *args[at + 2 :]]


@pytest.fixture
def cluster(kube_emulator: KubeEmulator) -> KubeEmulator:
    """podinfo and its Canary in `test`, the current revision promoted."""
    install_crds(kube_emulator)
    target = create(kube_emulator, deployment())
    revision = pod_template_revision(target["spec"]["template"])
    create(kube_emulator, canary())
    status: dict[str, Any] = {
        "phase": "Succeeded",
        "lastAppliedSpec": revision,
        "lastPromotedSpec": revision,
    }
    kube_emulator.set_status("coalmine.dev/v1beta1", "canaries", "podinfo", status, "test")
    return kube_emulator


@pytest.mark.parametrize("example", [github, gitlab, jenkins], ids=["github", "gitlab", "jenkins"])
async def test_the_deploy_examples_change_the_image_and_wait(
    example: Any,
    cluster: KubeEmulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = shortened(runnable(example()))
    assert args[:2] == ["deploy", "podinfo"] and "--wait" in args
    result = await asyncio.to_thread(invoke, *args, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 2, result.output
    report = (tmp_path / REPORT).read_text()
    assert "Canary analysis: podinfo.test" in report and "Spec in brief" in report
    target = cluster.get("apps/v1", "deployments", "podinfo", "test")
    assert target is not None
    assert target["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE


async def test_the_argocd_hook_waits_for_what_was_synced(
    cluster: KubeEmulator, kubeconfig: Path
) -> None:
    args = shortened(argocd())
    result = await asyncio.to_thread(invoke, *args, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0, result.output
    assert "promoted (exit 0)" in result.output
    assert args[-2:] == ["--report", "-"]
    assert "# Canary analysis: podinfo.test" in result.output
