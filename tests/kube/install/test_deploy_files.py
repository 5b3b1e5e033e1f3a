"""The committed files under deploy/ are what the code generates, and kustomize builds them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from coalmine.cli.main import app
from coalmine.kube.install.deploy_files import GENERATED_DIRS, deploy_files
from coalmine.kube.install.manifests import (
    LOADTESTER_TOKEN_SECRET,
    InstallOptions,
    install_objects,
    loadtester_token_env,
)
from tests.kube.tools import REPO, by_identity, parse, run_tool


def test_committed_files_match_the_generator() -> None:
    stale = [
        path
        for path, text in deploy_files().items()
        if not (REPO / path).exists() or (REPO / path).read_text() != text
    ]
    assert stale == [], "run scripts/generate-deploy and commit the result"


def test_generated_directories_hold_nothing_else() -> None:
    generated = set(deploy_files())
    on_disk = {
        str(path.relative_to(REPO))
        for folder in GENERATED_DIRS
        for path in (REPO / folder).rglob("*")
        if path.is_file()
    }
    assert on_disk - generated == set()


@pytest.mark.parametrize(
    ("folder", "options"),
    [
        ("deploy/kustomize/base", InstallOptions()),
        ("deploy/kustomize/flagger-compat", InstallOptions(flagger_compat=True)),
        (
            "deploy/kustomize/loadtester-token",
            InstallOptions(loadtester_token_secret=LOADTESTER_TOKEN_SECRET),
        ),
        (
            "deploy/kustomize/loadtester",
            InstallOptions(
                loadtester=True,
                loadtester_commands=True,
                loadtester_token_secret=LOADTESTER_TOKEN_SECRET,
            ),
        ),
    ],
)
def test_kustomize_builds_the_install_objects(folder: str, options: InstallOptions) -> None:
    built, wanted = (
        parse(run_tool("kubectl", "kustomize", folder)),
        by_identity(install_objects(options)),
    )
    assert sorted(built) == sorted(wanted)
    for key, obj in wanted.items():
        assert built[key] == obj, key


def test_the_flagger_crds_build_on_their_own() -> None:
    built = parse(run_tool("kubectl", "kustomize", "deploy/crds/flagger.app"))
    assert sorted(name for _, _, name in built) == [
        "alertproviders.flagger.app",
        "canaries.flagger.app",
        "metrictemplates.flagger.app",
    ]


def test_the_load_tester_and_the_controller_read_one_secret() -> None:
    """deploy/loadtester-commands requires the token the controller's overlay sends."""
    [loadtester] = [
        obj
        for obj in parse(run_tool("kubectl", "kustomize", "deploy/loadtester-commands")).values()
        if obj["kind"] == "Deployment"
    ]
    [container] = loadtester["spec"]["template"]["spec"]["containers"]
    assert "--enable-commands" in container["args"]
    assert CliRunner().invoke(app, [*container["args"], "--help"]).exit_code == 0
    [token] = [e for e in container["env"] if e["name"] == "COALMINE_LOADTESTER_TOKEN"]
    reference = token["valueFrom"]["secretKeyRef"]
    assert reference.pop("optional") is False  # commands on: no start without the token
    sent = loadtester_token_env(LOADTESTER_TOKEN_SECRET)["valueFrom"]["secretKeyRef"]
    assert reference == sent
