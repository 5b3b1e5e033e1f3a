"""The Dockerfile, checked without a Docker engine (none runs on these machines).

Nothing here builds the image. What is checked: the base image, the non-root user the
manifests expect, the entrypoint and command, the exposed ports, that the final stage
builds nothing, and that the package builds from exactly the files the Dockerfile copies
(with .dockerignore applied), which is the step `pip install .` does in the build stage.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from coalmine.kube.install.manifests import HEALTH_PORT, METRICS_PORT, RUN_AS_USER

REPO = Path(__file__).parents[1]

Instruction = tuple[str, str]


def instructions() -> list[Instruction]:
    """(KEYWORD, arguments) per instruction; continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def stages() -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, args))
    return found


def final() -> dict[str, str]:
    return dict(stages()[-1])


def ignored(relative: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(relative).parts
    return any(
        fnmatch.fnmatch(relative, pattern.removeprefix("**/"))
        or any(fnmatch.fnmatch(part, pattern.removeprefix("**/")) for part in parts)
        for pattern in patterns
    )


def copied_sources() -> list[str]:
    sources = []
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    return sources


def test_both_stages_start_from_python_311_slim() -> None:
    assert [stage[0][1].split()[0] for stage in stages()] == ["python:3.11-slim"] * 2


def test_the_image_runs_as_the_user_the_manifests_expect() -> None:
    assert final()["USER"] == f"{RUN_AS_USER}:{RUN_AS_USER}"
    assert f"--uid {RUN_AS_USER}" in final()["RUN"]


def test_entrypoint_is_the_console_script_and_the_controller_is_the_default() -> None:
    assert json.loads(final()["ENTRYPOINT"]) == ["coalmine"]
    assert json.loads(final()["CMD"]) == ["controller"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "coalmine" in scripts


def test_exposed_ports_are_the_controllers() -> None:
    assert final()["EXPOSE"].split() == [str(METRICS_PORT), str(HEALTH_PORT)]


def test_the_final_stage_builds_nothing() -> None:
    runs = " ".join(args for keyword, args in stages()[-1] if keyword == "RUN")
    for tool in ("pip", "apt-get", "gcc", "build-essential"):
        assert tool not in runs
    assert ("COPY", "--from=build /opt/coalmine /opt/coalmine") in stages()[-1]


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    sources = copied_sources()
    assert sources == ["pyproject.toml", "README.md", "src"]
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignored(source), source


@pytest.mark.slow
def test_the_package_builds_from_what_the_dockerfile_copies(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for source in copied_sources():
        for path in [REPO / source, *(REPO / source).rglob("*")]:
            relative = str(path.relative_to(REPO))
            if path.is_file() and not ignored(relative):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, context / relative)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "out")]
    done = subprocess.run(
        [*command, str(context)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    [wheel] = (tmp_path / "out").glob("coalmine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "coalmine/cli/main.py" in names and "coalmine/kube/install/crds.py" in names
    assert not [name for name in names if "__pycache__" in name]
