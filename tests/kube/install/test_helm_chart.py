"""The Helm chart renders, with real Helm, the objects `coalmine install` applies.

`helm template` runs here (helm 4.1.4 from scripts/setup-tools); `helm install` against
a real cluster does not. The chart leaves out the Namespace (install it with
`--create-namespace`) and adds Helm's two conventional labels; nothing else differs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from coalmine import __version__
from coalmine.kube.install.manifests import InstallOptions, install_objects
from tests.kube.tools import REPO, by_identity, parse, run_tool

CHART = "deploy/helm/coalmine"


def render(*values: str) -> str:
    sets = [arg for value in values for arg in ("--set", value)]
    return run_tool(
        "helm", "template", "coalmine", CHART, "--namespace", "coalmine-system",
        "--include-crds", *sets,
    )  # fmt: skip


def expected(options: InstallOptions) -> dict[tuple[str, str, str], dict[str, object]]:
    return by_identity([o for o in install_objects(options) if o["kind"] != "Namespace"])


def test_the_chart_lints() -> None:
    run_tool("helm", "lint", "--strict", CHART)


def test_the_chart_version_is_the_package_version() -> None:
    chart = yaml.safe_load((REPO / CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


CASES = {
    "defaults": ((), InstallOptions()),
    "watched namespaces, flagger compat, no leader election": (
        (
            "watchNamespaces={team-a,team-b}",
            "flaggerCompat.enabled=true",
            "leaderElection.enabled=false",
            "logJson=false",
            "logLevel=debug",
        ),
        InstallOptions(
            watch_namespaces=("team-a", "team-b"),
            flagger_compat=True,
            leader_elect=False,
            log_json=False,
            log_level="debug",
        ),
    ),
    "flagger CRDs, another image and Prometheus": (
        (
            "flaggerCompat.enabled=true",
            "flaggerCompat.installCRDs=true",
            "image.tag=9.9.9",
            "metricsServer=http://prometheus.monitoring:9090",
            "replicas=2",
        ),
        InstallOptions(
            flagger_compat=True,
            flagger_crds=True,
            image="ghcr.io/coalmine/coalmine:9.9.9",
            metrics_server="http://prometheus.monitoring:9090",
            replicas=2,
        ),
    ),
    "three replicas sharing three shards": (
        ("replicas=3", "leaderElection.shards=3"),
        InstallOptions(replicas=3, shards=3),
    ),
    "the load tester's token": (
        ("loadtester.tokenSecret=loadtester-token",),
        InstallOptions(loadtester_token_secret="loadtester-token"),
    ),
    "the load tester, commands on, one Secret": (
        (
            "loadtester.enabled=true",
            "loadtester.commands=true",
            "loadtester.tokenSecret=loadtester-token",
        ),
        InstallOptions(
            loadtester=True, loadtester_commands=True, loadtester_token_secret="loadtester-token"
        ),
    ),
    "the load tester without commands": (
        ("loadtester.enabled=true",),
        InstallOptions(loadtester=True),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_the_chart_renders_the_install_objects(name: str) -> None:
    values, options = CASES[name]
    rendered, wanted = parse(render(*values)), expected(options)
    assert sorted(rendered) == sorted(wanted)
    for key, obj in wanted.items():
        assert rendered[key] == obj, key


def test_helm_labels_are_the_only_additions() -> None:
    [deployment] = [o for o in yaml.safe_load_all(render()) if o and o["kind"] == "Deployment"]
    assert set(deployment["metadata"]["labels"]) - set(InstallOptions().labels) == {
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    }


def test_commands_without_a_token_are_refused() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "helm"), "template", "coalmine", CHART,
         "--set", "loadtester.enabled=true", "--set", "loadtester.commands=true"],
        capture_output=True, text=True, check=False, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode != 0
    assert "loadtester.commands needs loadtester.tokenSecret" in done.stderr


def test_min_interval_is_passed_to_the_controller_only_when_set() -> None:
    def args(*values: str) -> list[str]:
        docs = yaml.safe_load_all(render(*values))
        [deployment] = [o for o in docs if o and o["kind"] == "Deployment"]
        found: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return found

    assert "--min-interval" not in args()
    with_floor = args("minInterval=2s")
    assert with_floor[with_floor.index("--min-interval") + 1] == "2s"
