"""The generated files under `deploy/`: CRDs, the kustomize base and overlay, the chart's CRDs.

    python -m coalmine.kube.install.deploy_files [ROOT]     (scripts/generate-deploy runs it)

writes them from `kube.install.manifests` and `kube.install.crds`; a test fails when the
committed files differ from what this produces. The Helm chart's templates are written by hand and
checked against the same objects by rendering them with Helm.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from coalmine.api.common import COALMINE_GROUP, FLAGGER_GROUP
from coalmine.kube.install import manifests, rbac
from coalmine.kube.install.crds import custom_resource_definitions

__all__ = ["GENERATED_DIRS", "RBAC_DOC", "deploy_files", "render_yaml", "with_rbac_table", "write"]

HEADER = "# Generated from src/coalmine/kube/install by scripts/generate-deploy; do not edit.\n"

GENERATED_DIRS = ("deploy/crds", "deploy/kustomize", "deploy/helm/coalmine/crds")
"""Directories that hold only generated files (a test finds stale ones there)."""

FLAGGER_CRDS_TEMPLATE = "deploy/helm/coalmine/templates/flagger-crds.yaml"
RBAC_RULES_TEMPLATE = "deploy/helm/coalmine/templates/_rbac-rules.tpl"
RBAC_DOC = "docs/install.md"
TABLE_START, TABLE_END = "<!-- rbac-table: start -->\n", "<!-- rbac-table: end -->"


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people: no anchors for repeated values, multi-line text as blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def render_yaml(objects: Iterable[dict[str, Any]]) -> str:
    """Objects as one multi-document YAML stream, keys in the order they were built."""
    return yaml.dump_all(
        list(objects), Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100
    )


def _dump(body: Any) -> str:
    return yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=100)


def deploy_files() -> dict[str, str]:
    """Relative path -> content of every generated file."""
    files: dict[str, str] = {}
    for group in (COALMINE_GROUP, FLAGGER_GROUP):
        files.update(_crd_files(group))
    files.update(_base_files())
    files.update(_flagger_overlay_files())
    files.update(_loadtester_token_overlay_files())
    files.update(_loadtester_overlay_files())
    for crd in custom_resource_definitions():
        files[f"deploy/helm/coalmine/crds/{crd['metadata']['name']}.yaml"] = _doc(crd)
    flagger_crds = render_yaml(custom_resource_definitions(FLAGGER_GROUP))
    files[FLAGGER_CRDS_TEMPLATE] = (
        HEADER + "{{- if .Values.flaggerCompat.installCRDs }}\n" + flagger_crds + "{{- end }}\n"
    )
    files[RBAC_RULES_TEMPLATE] = _helm_rules()
    return files


def _helm_rules() -> str:
    """The RBAC rules as named Helm templates, so the chart cannot drift from kube.install.rbac."""
    sets = {
        "crds": (rbac.CRDS,),
        "namespaces": (rbac.NAMESPACES,),
        "workload": rbac.WORKLOAD,
        "flagger": rbac.FLAGGER,
        "leaderElection": rbac.LEADER_ELECTION,
    }
    text = "{{/* " + HEADER.removeprefix("# ").strip() + " */}}\n"
    for name, permissions in sets.items():
        rules = _dump([permission.to_rule() for permission in permissions])
        text += f'{{{{- define "coalmine.rules.{name}" -}}}}\n{rules}{{{{- end }}}}\n'
    return text


def _doc(obj: dict[str, Any]) -> str:
    return HEADER + render_yaml([obj])


def _kustomization(resources: list[str], **extra: Any) -> str:
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **extra,
    }
    return HEADER + _dump(body)


def _crd_files(group: str) -> dict[str, str]:
    folder = f"deploy/crds/{group}"
    files = {}
    for crd in custom_resource_definitions(group):
        files[f"{folder}/{crd['spec']['names']['plural']}.yaml"] = _doc(crd)
    files[f"{folder}/kustomization.yaml"] = _kustomization(
        sorted(Path(path).name for path in files)
    )
    return files


def _base_files() -> dict[str, str]:
    """The default installation, one file per concern; CRDs come from ../../crds."""
    options = manifests.InstallOptions()
    folder = "deploy/kustomize/base"
    parts = {
        "namespace.yaml": [manifests.namespace(options)],
        "rbac.yaml": [manifests.service_account(options), *manifests.rbac_objects(options)],
        "service.yaml": [manifests.metrics_service(options)],
        "deployment.yaml": [manifests.deployment(options)],
    }
    files = {f"{folder}/{name}": HEADER + render_yaml(objs) for name, objs in parts.items()}
    resources = ["../../crds/coalmine.dev", *parts]
    files[f"{folder}/kustomization.yaml"] = _kustomization(resources)
    return files


def _flagger_overlay_files() -> dict[str, str]:
    """The base plus `--flagger-compat`: the flagger.app rights and the switch."""
    base = manifests.InstallOptions()
    compat = manifests.InstallOptions(flagger_compat=True)
    added = [
        obj for obj in manifests.rbac_objects(compat) if obj not in manifests.rbac_objects(base)
    ]
    folder = "deploy/kustomize/flagger-compat"
    patch = [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/args/-",
            "value": "--flagger-compat",
        }
    ]
    target = {"group": "apps", "version": "v1", "kind": "Deployment", "name": base.name}
    return {
        f"{folder}/rbac-flagger.yaml": HEADER + render_yaml(added),
        f"{folder}/kustomization.yaml": _kustomization(
            ["../base", "rbac-flagger.yaml"],
            patches=[{"target": target, "patch": _dump(patch)}],
        ),
    }


def _loadtester_token_overlay_files() -> dict[str, str]:
    """The base plus the controller reading the load tester's token from its Secret."""
    base = manifests.InstallOptions()
    env = manifests.loadtester_token_env(manifests.LOADTESTER_TOKEN_SECRET)
    patch = [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": env}]
    target = {"group": "apps", "version": "v1", "kind": "Deployment", "name": base.name}
    comment = (
        "# The controller sends the load tester's token (docs/security.md). First create\n"
        f"# the Secret {manifests.LOADTESTER_TOKEN_SECRET} (key: {manifests.LOADTESTER_TOKEN_KEY})"
        f" in {base.namespace},\n# with the value of the load tester's own Secret.\n"
    )
    return {
        "deploy/kustomize/loadtester-token/kustomization.yaml": _kustomization(
            ["../base"], patches=[{"target": target, "patch": _dump(patch)}]
        ).replace(HEADER, HEADER + comment, 1),
    }


def _loadtester_overlay_files() -> dict[str, str]:
    """The base plus the load tester next to the controller, commands on, one Secret."""
    options = manifests.InstallOptions(
        loadtester=True,
        loadtester_commands=True,
        loadtester_token_secret=manifests.LOADTESTER_TOKEN_SECRET,
    )
    env = manifests.loadtester_token_env(manifests.LOADTESTER_TOKEN_SECRET)
    patch = [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": env}]
    target = {"group": "apps", "version": "v1", "kind": "Deployment", "name": options.name}
    comment = (
        "# The load tester in the controller's namespace, cmd and bash tasks on, and the\n"
        f"# controller sending its token: both read the Secret {manifests.LOADTESTER_TOKEN_SECRET}"
        f"\n# (key: {manifests.LOADTESTER_TOKEN_KEY}) in {options.namespace}; create it first.\n"
    )
    folder = "deploy/kustomize/loadtester"
    return {
        f"{folder}/loadtester.yaml": HEADER + render_yaml(manifests.loadtester_objects(options)),
        f"{folder}/kustomization.yaml": _kustomization(
            ["../base", "loadtester.yaml"], patches=[{"target": target, "patch": _dump(patch)}]
        ).replace(HEADER, HEADER + comment, 1),
    }


def with_rbac_table(doc: str) -> str:
    """`doc` with the text between the rbac-table markers replaced by the current table."""
    head, start, rest = doc.partition(TABLE_START)
    _old, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"{RBAC_DOC} lacks the markers {TABLE_START.strip()} ... {TABLE_END}")
    return head + start + rbac.markdown_table() + end + tail


def write(root: Path) -> list[Path]:
    """Write every generated file under `root`, and the RBAC table into the docs."""
    written = []
    for relative, text in deploy_files().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    doc = root / RBAC_DOC
    doc.write_text(with_rbac_table(doc.read_text()))
    return [*written, doc]


if __name__ == "__main__":  # pragma: no cover - exercised through scripts/generate-deploy
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path in write(target):
        print(path.relative_to(target))
