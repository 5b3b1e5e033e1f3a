"""`coalmine controller`: its flags, their environment variables, and loud errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from coalmine.cli.main import app
from coalmine.errors import CoalmineError
from coalmine.kube.runtime.settings import Address, ControllerSettings

runner = CliRunner()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ControllerSettings]:
    """The settings the controller would have run with (it does not run)."""
    seen: list[ControllerSettings] = []

    async def record(settings: ControllerSettings) -> None:
        seen.append(settings)

    monkeypatch.setattr("coalmine.kube.runtime.run.run_until_stopped", record)
    return seen


def test_flags_become_settings(started: list[ControllerSettings], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["controller", "--metrics-addr", ":9090", "--health-addr", "127.0.0.1:0",
         "--metrics-server", "http://prometheus.istio-system:9090", "--namespace", "test",
         "--namespace", "prod", "--log-level", "debug", "--log-json", "--leader-elect",
         "--flagger-compat", "--min-interval", "1s", "--allow-cross-namespace-refs",
         "--kubeconfig", str(tmp_path / "config"), "--context", "kind-kind"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [settings] = started
    assert settings.serve.metrics == Address("0.0.0.0", 9090)
    assert settings.serve.health == Address("127.0.0.1", 0)
    assert settings.analysis.metrics_server == "http://prometheus.istio-system:9090"
    assert settings.analysis.min_interval == timedelta(seconds=1)
    assert settings.analysis.allow_cross_namespace_refs
    assert settings.scope.namespaces == ("test", "prod")
    assert settings.scope.flagger_compat and settings.leader.enabled
    assert (settings.logs.level, settings.logs.json) == ("debug", True)
    assert (settings.cluster.kubeconfig, settings.cluster.context) == (
        tmp_path / "config",
        "kind-kind",
    )


def test_every_flag_has_an_environment_variable(started: list[ControllerSettings]) -> None:
    env = {
        "COALMINE_METRICS_ADDR": "127.0.0.1:18080",
        "COALMINE_HEALTH_ADDR": ":18081",
        "COALMINE_MESH_PROVIDER": "istio",
        "COALMINE_METRICS_SERVER": "http://thanos:9090",
        "COALMINE_NAMESPACE": "test prod,staging",
        "COALMINE_LOG_LEVEL": "warning",
        "COALMINE_LOG_JSON": "true",
        "COALMINE_LEADER_ELECT": "true",
        "COALMINE_FLAGGER_COMPAT": "1",
        "COALMINE_MIN_INTERVAL": "5s",
        "COALMINE_ALLOW_CROSS_NAMESPACE_REFS": "true",
        "COALMINE_CONTEXT": "prod",
        "COALMINE_KUBECONFIG": "/etc/kube/config",
    }

    result = runner.invoke(app, ["controller"], env=env)

    assert result.exit_code == 0, result.output
    [settings] = started
    assert settings.serve.metrics == Address("127.0.0.1", 18080)
    assert settings.serve.health == Address("0.0.0.0", 18081)
    assert settings.analysis.metrics_server == "http://thanos:9090"
    assert settings.scope.namespaces == ("test", "prod", "staging")
    assert settings.analysis.min_interval == timedelta(seconds=5)
    assert settings.leader.enabled and settings.scope.flagger_compat
    assert settings.analysis.allow_cross_namespace_refs and settings.logs.json
    assert settings.cluster.context == "prod"
    assert settings.cluster.kubeconfig == Path("/etc/kube/config")


def test_defaults_are_flaggers(started: list[ControllerSettings]) -> None:
    assert runner.invoke(app, ["controller"], env={}).exit_code == 0
    [settings] = started
    assert settings.serve.metrics == Address("0.0.0.0", 8080)
    assert settings.serve.health == Address("0.0.0.0", 8081)
    assert settings.analysis.metrics_server == "http://prometheus:9090"
    assert settings.analysis.min_interval == timedelta(seconds=10)
    assert settings.scope.namespaces == ()
    assert not (settings.leader.enabled or settings.scope.flagger_compat)
    assert not settings.analysis.allow_cross_namespace_refs


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--mesh-provider", "linkerd"],
            "--mesh-provider: provider 'linkerd' has no router in Kubernetes; routers: istio,"
            " kubernetes, gatewayapi, gatewayapi:v1, gatewayapi:v1beta1.",
        ),
        (["--metrics-addr", "8080"], "--metrics-addr: expected [HOST]:PORT"),
        (["--min-interval", "soon"], "--min-interval: must be a duration"),
    ],
)
def test_bad_flags_are_loud(started: list[Any], flags: list[str], message: str) -> None:
    result = runner.invoke(app, ["controller", *flags])

    assert isinstance(result.exception, CoalmineError)
    assert message in str(result.exception)
    assert started == []


def test_help_shows_an_example() -> None:
    result = runner.invoke(app, ["controller", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
