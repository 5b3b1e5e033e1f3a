"""ConfigMap and Secret volumes as files of a replica's own (real processes at the end)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from coalmine.api.workloads import Deployment, PodSpec
from coalmine.local.processes import LocalDeployments
from coalmine.local.processes.configenv import ConfigMissing
from coalmine.local.processes.configfiles import volume_env_name, write_volumes
from tests.local.processes.conftest import FAST, eventually, marked_processes
from tests.local.processes.test_configenv import lookup

MODE_AT_CONF = {"key": "MODE", "path": "conf/mode"}
UP = {"key": "k", "path": "../x"}


def pod(volumes: list[dict[str, Any]], mounts: list[str] | None = None) -> PodSpec:
    names = [v["name"] for v in volumes] if mounts is None else mounts
    return PodSpec.model_validate(
        {
            "containers": [
                {
                    "name": "app",
                    "command": ["true"],
                    "volumeMounts": [{"name": n, "mountPath": f"/etc/{n}"} for n in names],
                }
            ],
            "volumes": volumes,
        }
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_mounted_volume_is_a_private_directory_named_by_an_env_var(tmp_path: Path) -> None:
    spec = pod(
        [
            {"name": "settings", "configMap": {"name": "settings"}},
            {
                "name": "both",
                "projected": {
                    "sources": [
                        {
                            "configMap": {
                                "name": "settings",
                                "items": [{"key": "MODE", "path": "conf/mode"}],
                            }
                        },
                        {"secret": {"name": "creds"}},
                    ]
                },
            },
            {"name": "unmounted", "secret": {"secretName": "nope"}},
        ],
        mounts=["settings", "both"],
    )
    env = write_volumes(spec, "default", lookup, tmp_path / "replica")
    assert env == {
        "VOLUME_SETTINGS": str(tmp_path / "replica" / "settings"),
        "VOLUME_BOTH": str(tmp_path / "replica" / "both"),
    }
    assert (tmp_path / "replica/settings/GREETING").read_text() == "hello"
    assert (tmp_path / "replica/both/conf/mode").read_text() == "fast"
    assert (tmp_path / "replica/both/password").read_text() == "s3cret"
    assert not (tmp_path / "replica/both/GREETING").exists()  # items: only those listed
    assert mode(tmp_path / "replica/both/password") == 0o600
    assert mode(tmp_path / "replica/both/conf") == 0o700
    assert mode(tmp_path / "replica") == 0o700
    assert not (tmp_path / "replica/unmounted").exists()


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"secret": {"secretName": "nope"}}, "secret 'nope' not found (volume v)"),
        (
            {"configMap": {"name": "settings", "items": [{"key": "X", "path": "x"}]}},
            "key 'X' not in configmap 'settings' (volume v)",
        ),
    ],
)
def test_a_missing_object_or_key_keeps_the_replica_from_starting(
    tmp_path: Path, volume: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigMissing, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_volumes(pod([{"name": "v", **volume}]), "default", lookup, tmp_path / "r")
    optional = {k: {**v, "optional": True} for k, v in volume.items()}
    assert write_volumes(pod([{"name": "v", **optional}]), "default", lookup, tmp_path / "r")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]},
                    }
                ]
            },
            "must be relative",
        ),
        ({"volumes": [{"name": "v", "emptyDir": {}}]}, "emptyDir"),
        ({"volumes": [{"name": "v"}]}, "exactly one of configMap, secret and projected"),
        ({"volumes": []}, "no volume of that name"),
    ],
)
def test_invalid_volumes_are_refused(spec: dict[str, Any], message: str) -> None:
    document = {
        "containers": [
            {"name": "app", "command": ["true"], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}
        ],
        **spec,
    }
    with pytest.raises(ValueError, match=message):
        PodSpec.model_validate(document)


def test_the_variable_name_is_the_volume_name_in_upper_case() -> None:
    assert volume_env_name("config-files.v2") == "VOLUME_CONFIG_FILES_V2"


async def test_a_replica_process_reads_its_volume_files(tmp_path: Path) -> None:
    configs = {("ConfigMap", "default", "settings"): {"app.conf": b"mode=fast\n"}}
    deployments = LocalDeployments(
        tmp_path / "state",
        settings=FAST,
        configs=lambda kind, namespace, name: configs.get((kind, namespace, name)),
    )
    await deployments.start()
    prefix = deployments.marker_prefix
    out = tmp_path / "read"
    script = (
        f"import os, pathlib, time; pathlib.Path({str(out)!r}).write_text("
        "pathlib.Path(os.environ['VOLUME_CONFIG'], 'app.conf').read_text()); time.sleep(60)"
    )
    spec = {
        "containers": [
            {
                "name": "app",
                "command": [sys.executable, "-c", script],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "settings"}}],
    }
    manifest = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
        },
    }
    volumes = tmp_path / "state" / "volumes" / "default" / "web"
    try:
        await deployments.apply(Deployment.model_validate(manifest))
        await eventually(lambda: out.exists() and out.read_text() == "mode=fast\n", "read")
        await deployments.delete("default", "web")
        assert list(volumes.iterdir()) == []  # removed with the replica
    finally:
        await deployments.stop()
    assert marked_processes(prefix) == []
