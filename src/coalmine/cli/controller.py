"""`coalmine controller`: the Kubernetes operator (kopf + kr8s, Istio routing).

Every flag can also come from the environment variable COALMINE_<FLAG> (upper case,
dashes as underscores; `--namespace` takes a space- or comma-separated list there).
The flags are read once into `ControllerSettings` (coalmine.kube.runtime.settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from coalmine.kube.runtime.settings import ControllerSettings

__all__ = ["build_settings", "controller"]


def _env(flag: str) -> str:
    return "COALMINE_" + flag.upper().replace("-", "_")


def controller(
    metrics_addr: Annotated[
        str, typer.Option(envvar=_env("metrics-addr"), help="Serve /metrics on [HOST]:PORT.")
    ] = ":8080",
    health_addr: Annotated[
        str,
        typer.Option(
            envvar=_env("health-addr"),
            help="Serve /healthz (liveness) and /readyz (readiness) on [HOST]:PORT.",
        ),
    ] = ":8081",
    mesh_provider: Annotated[
        str,
        typer.Option(
            envvar=_env("mesh-provider"),
            help=(
                "The router of Canaries without spec.provider: istio or kubernetes "
                "(Flagger's -mesh-provider)."
            ),
        ),
    ] = "istio",
    metrics_server: Annotated[
        str,
        typer.Option(
            envvar=_env("metrics-server"),
            help="Prometheus for the built-in checks and templates without an address.",
        ),
    ] = "http://prometheus:9090",
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("namespace"),
            help="Reconcile Canaries in this namespace (repeat for more; none: all).",
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option(envvar=_env("log-level"), help="debug, info, warning, error or critical."),
    ] = "info",
    log_json: Annotated[
        bool, typer.Option(envvar=_env("log-json"), help="Log JSON lines instead of text.")
    ] = False,
    leader_elect: Annotated[
        bool,
        typer.Option(
            envvar=_env("leader-elect"),
            help="Act only while holding the Lease coalmine-controller (run several replicas).",
        ),
    ] = False,
    shards: Annotated[
        int,
        typer.Option(
            envvar=_env("shards"),
            help="Split the Canaries into N shards, one Lease each, shared by the replicas.",
        ),
    ] = 1,
    flagger_compat: Annotated[
        bool,
        typer.Option(
            envvar=_env("flagger-compat"),
            help="Also reconcile flagger.app/v1beta1 Canaries, MetricTemplates, AlertProviders.",
        ),
    ] = False,
    min_interval: Annotated[
        str,
        typer.Option(
            envvar=_env("min-interval"), help="The floor of analysis.interval (Flagger's is 10s)."
        ),
    ] = "10s",
    allow_cross_namespace_refs: Annotated[
        bool,
        typer.Option(
            envvar=_env("allow-cross-namespace-refs"),
            help="Let Canaries use MetricTemplates and AlertProviders of other namespaces.",
        ),
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            envvar=_env("kubeconfig"),
            help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).",
        ),
    ] = None,
    context: Annotated[
        str | None, typer.Option(envvar=_env("context"), help="Kubeconfig context to use.")
    ] = None,
) -> None:
    """Run the operator: reconcile Canary resources in the cluster, with Istio routing.

    Example:  coalmine controller --namespace test --metrics-server http://prometheus.istio-system:9090
    """
    import asyncio

    from coalmine.kube.runtime.run import run_until_stopped

    settings = build_settings(
        metrics_addr=metrics_addr,
        health_addr=health_addr,
        mesh_provider=mesh_provider,
        metrics_server=metrics_server,
        namespaces=namespace or [],
        log_level=log_level,
        log_json=log_json,
        leader_elect=leader_elect,
        shards=shards,
        flagger_compat=flagger_compat,
        min_interval=min_interval,
        allow_cross_namespace_refs=allow_cross_namespace_refs,
        kubeconfig=kubeconfig,
        context=context,
    )
    asyncio.run(run_until_stopped(settings))


LEASE_DURATION = "COALMINE_LEASE_DURATION"
"""Seconds a Lease lives (default 15): how long a crashed leader holds the others back.
Environment only, a tuning knob; renewal deadline and retry period scale with it."""


def _lease_duration() -> float:
    import os

    from coalmine.errors import CoalmineError

    text = os.environ.get(LEASE_DURATION, "15")
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if seconds < 1:
        raise CoalmineError(f"{LEASE_DURATION}: expected seconds, at least 1, got {text!r}")
    return seconds


def build_settings(
    *,
    metrics_addr: str,
    health_addr: str,
    mesh_provider: str,
    metrics_server: str,
    namespaces: list[str],
    log_level: str,
    log_json: bool,
    leader_elect: bool,
    flagger_compat: bool,
    shards: int = 1,
    min_interval: str,
    allow_cross_namespace_refs: bool,
    kubeconfig: Path | None,
    context: str | None,
) -> ControllerSettings:
    """The settings from the flags; a CoalmineError names the flag that is wrong."""
    from coalmine.api.common import parse_duration
    from coalmine.errors import CoalmineError
    from coalmine.kube.runtime import settings as s

    try:
        floor = parse_duration(min_interval)
    except ValueError as error:
        raise CoalmineError(f"--min-interval: {error}") from None
    return s.ControllerSettings(
        cluster=s.ClusterSettings(kubeconfig=kubeconfig, context=context),
        scope=s.ScopeSettings(
            namespaces=tuple(
                n.strip() for item in namespaces for n in item.split(",") if n.strip()
            ),
            flagger_compat=flagger_compat,
        ),
        analysis=s.AnalysisSettings(
            mesh_provider=mesh_provider,
            metrics_server=metrics_server,
            min_interval=floor,
            allow_cross_namespace_refs=allow_cross_namespace_refs,
        ),
        leader=s.LeaderSettings.scaled(
            enabled=leader_elect, lease_duration=_lease_duration(), shards=shards
        ),
        serve=s.ServeSettings(
            metrics=s.Address.parse(metrics_addr, flag="--metrics-addr"),
            health=s.Address.parse(health_addr, flag="--health-addr"),
        ),
        logs=s.LogSettings(level=log_level, json=log_json),
    )
