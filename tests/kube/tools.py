"""Running the real helm and kubectl that scripts/setup-tools puts next to the test's Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
HELM_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")
"""Labels Helm charts carry by convention and the kustomize base does not."""

Key = tuple[str, str, str]


def run_tool(name: str, *args: str) -> str:
    """Run `name` from the virtual environment; its stdout, or the test fails with stderr."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/setup-tools (scripts/test does)")
    done = subprocess.run(
        [str(path), *args], capture_output=True, text=True, check=False, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def by_identity(objects: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Objects keyed by (kind, namespace, name), Helm's own labels removed."""
    found = {}
    for obj in objects:
        if not obj:
            continue
        obj = yaml.safe_load(yaml.safe_dump(obj))  # a deep copy
        for meta in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
            for label in HELM_LABELS:
                meta.get("labels", {}).pop(label, None)
        meta = obj["metadata"]
        found[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    return found


def parse(stream: str) -> dict[Key, dict[str, Any]]:
    return by_identity(list(yaml.safe_load_all(stream)))
