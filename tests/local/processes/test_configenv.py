"""A replica's environment from ConfigMaps and Secrets, with real processes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coalmine.api.workloads import Container, Deployment
from coalmine.local.processes import LocalDeployments
from coalmine.local.processes.configenv import ConfigMissing, config_env
from tests.local.processes.conftest import FAST, eventually, marked_processes

CONFIGS: dict[tuple[str, str, str], dict[str, bytes]] = {
    ("ConfigMap", "default", "settings"): {"GREETING": b"hello", "MODE": b"fast"},
    ("Secret", "default", "creds"): {"password": b"s3cret"},
}


def lookup(kind: str, namespace: str, name: str) -> dict[str, bytes] | None:
    return CONFIGS.get((kind, namespace, name))


def container(env: list[dict[str, object]], env_from: list[dict[str, object]]) -> Container:
    return Container.model_validate(
        {"name": "app", "command": ["true"], "env": env, "envFrom": env_from}
    )


def test_env_from_sources_come_first_and_env_entries_win() -> None:
    found = config_env(
        container(
            [
                {"name": "MODE", "value": "slow"},
                {
                    "name": "PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
                },
            ],
            [
                {"configMapRef": {"name": "settings"}},
                {"prefix": "S_", "secretRef": {"name": "creds"}},
            ],
        ),
        "default",
        lookup,
    )
    assert found == {
        "GREETING": "hello",
        "MODE": "slow",
        "S_password": "s3cret",
        "PASSWORD": "s3cret",
    }


@pytest.mark.parametrize(
    ("env", "env_from", "message"),
    [
        ([], [{"configMapRef": {"name": "nope"}}], "configmap 'nope' not found (envFrom)"),
        (
            [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "NOPE"}}}],
            [],
            "key 'NOPE' not in configmap 'settings' (env X)",
        ),
        (
            [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "other", "key": "a"}}}],
            [],
            "secret 'other' not found (env X)",
        ),
    ],
)
def test_a_missing_reference_is_a_create_container_config_error(
    env: list[dict[str, object]], env_from: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigMissing) as raised:
        config_env(container(env, env_from), "default", lookup)
    assert str(raised.value) == f"CreateContainerConfigError: {message}"


def test_an_optional_reference_may_be_missing() -> None:
    found = config_env(
        container(
            [
                {
                    "name": "X",
                    "valueFrom": {"configMapKeyRef": {"name": "s", "key": "k", "optional": True}},
                }
            ],
            [{"secretRef": {"name": "nope", "optional": True}}],
        ),
        "default",
        lookup,
    )
    assert found == {}


def test_value_from_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of configMapKeyRef and secretKeyRef"):
        container([{"name": "X", "valueFrom": {}}], [])
    with pytest.raises(ValueError, match="value or valueFrom, not both"):
        container(
            [{"name": "X", "value": "a", "valueFrom": {"secretKeyRef": {"name": "c", "key": "k"}}}],
            [],
        )


@pytest.fixture
async def configured(
    tmp_path: Path,
) -> AsyncIterator[tuple[LocalDeployments, dict[tuple[str, str, str], dict[str, bytes]]]]:
    """A runtime reading configs from a dict the test changes."""
    configs: dict[tuple[str, str, str], dict[str, bytes]] = {}
    deployments = LocalDeployments(
        tmp_path / "state",
        settings=FAST,
        configs=lambda kind, namespace, name: configs.get((kind, namespace, name)),
    )
    await deployments.start()
    prefix = deployments.marker_prefix
    try:
        yield deployments, configs
    finally:
        await deployments.stop()
    assert marked_processes(prefix) == []


async def test_a_replica_waits_for_its_config_then_runs_with_it(
    configured: tuple[LocalDeployments, dict[tuple[str, str, str], dict[str, bytes]]],
    tmp_path: Path,
) -> None:
    """Missing: the replica does not start and says why; applied: it starts and reads it."""
    runtime, configs = configured
    out = tmp_path / "greeting"
    script = (
        f"import os, pathlib, time; pathlib.Path({str(out)!r})"
        ".write_text(os.environ['GREETING']); time.sleep(60)"
    )
    manifest = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "command": [sys.executable, "-c", script],
                            "env": [
                                {
                                    "name": "GREETING",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "settings", "key": "GREETING"}
                                    },
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }
    await runtime.apply(Deployment.model_validate(manifest))

    def last_exit() -> str:
        replicas = runtime.status("default", "web").replica_details
        return replicas[0].last_exit if replicas else ""

    await eventually(lambda: last_exit() != "", "the replica says why it cannot start")
    assert last_exit() == (
        "CreateContainerConfigError: configmap 'settings' not found (env GREETING)"
    )
    assert not out.exists()
    configs[("ConfigMap", "default", "settings")] = {"GREETING": b"hello"}
    await eventually(lambda: runtime.status("default", "web").available == 1, "available")
    await eventually(lambda: out.exists() and out.read_text() == "hello", "the value read")
