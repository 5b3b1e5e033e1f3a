"""The controller's settings: built once at start-up from flags and environment, then passed.

Grouped by concern, every field with a default and a docstring. `coalmine controller`
builds them (cli/controller.py); tests build them directly. Nothing reads the
environment after start-up.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from coalmine.api.interval_floor import MIN_INTERVAL
from coalmine.errors import CoalmineError
from coalmine.metrics.limits import QueryLimitSettings
from coalmine.routers.registry import PROVIDERS, Runtime, check_provider

__all__ = [
    "MESH_PROVIDERS",
    "Address",
    "AnalysisSettings",
    "ClusterSettings",
    "ControllerSettings",
    "HealthSettings",
    "LeaderSettings",
    "LogSettings",
    "ScopeSettings",
    "ServeSettings",
    "default_identity",
]

MESH_PROVIDERS = PROVIDERS[Runtime.KUBERNETES]
"""Providers the operator can route with (`routers.registry`)."""

DEFAULT_METRICS_SERVER = "http://prometheus:9090"
"""Flagger's default Prometheus address."""


@dataclass(frozen=True)
class Address:
    """Where a server listens: `:8080` is every interface, port 0 a free port."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str, *, flag: str) -> Address:
        host, colon, port = text.strip().rpartition(":")
        if not colon or not port.isdigit() or int(port) > 65535:
            raise CoalmineError(
                f"{flag}: expected [HOST]:PORT such as :8080 or 127.0.0.1:8080, got {text!r}"
            )
        return cls(host.strip("[]") or "0.0.0.0", int(port))  # noqa: S104 - a pod listens on all

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterSettings:
    """How to reach the Kubernetes API, as kubectl finds it."""

    kubeconfig: Path | None = None
    """A kubeconfig file; None means $KUBECONFIG, then ~/.kube/config, then the pod's
    service account (in-cluster)."""
    context: str | None = None
    """A context of the kubeconfig; None means its current-context."""
    request_timeout: float = 10.0
    """Seconds one API request may take."""


@dataclass(frozen=True)
class ScopeSettings:
    """Which Canaries this controller reconciles."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces."""
    flagger_compat: bool = False
    """Also reconcile flagger.app/v1beta1 Canaries, MetricTemplates and AlertProviders."""


@dataclass(frozen=True)
class AnalysisSettings:
    """How canaries are analysed."""

    mesh_provider: str = "istio"
    """The router of Canaries without spec.provider (one of MESH_PROVIDERS), as Flagger's
    `-mesh-provider`; it also picks the built-in checks' queries."""
    metrics_server: str = DEFAULT_METRICS_SERVER
    """Prometheus for the built-in checks and for templates without an address."""
    min_interval: timedelta = MIN_INTERVAL
    """The floor of analysis.interval; Canaries with a shorter interval are invalid."""
    allow_cross_namespace_refs: bool = False
    """May a Canary name a MetricTemplate or AlertProvider in another namespace?"""
    loadtester_token: str | None = field(
        default_factory=lambda: os.environ.get("COALMINE_LOADTESTER_TOKEN") or None, repr=False
    )
    """Sent as a bearer token to webhooks addressed to a load tester Service
    (`loadtester.*`, `flagger-loadtester.*`) and to no other URL; from
    $COALMINE_LOADTESTER_TOKEN. Needed when the load tester runs with commands enabled."""
    invalid_recheck: timedelta = timedelta(seconds=60)
    """How long an invalid Canary waits before it is read again (an edit wakes it sooner)."""
    query_limits: QueryLimitSettings = field(default_factory=QueryLimitSettings)
    """Metric queries in flight, all together and per Prometheus, and their rate per
    Prometheus (`coalmine.metrics.limits`): a slow one delays only its own canaries."""

    def __post_init__(self) -> None:
        check_provider(self.mesh_provider, Runtime.KUBERNETES, where="--mesh-provider")


def default_identity() -> str:
    """This replica's name: $POD_NAME (set it from the downward API), else the host name
    with a random suffix (two processes on one host stay apart)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def default_lease_namespace() -> str | None:
    """The pod's own namespace in a cluster; None outside (then the kubeconfig's)."""
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    try:
        return path.read_text().strip() or None
    except OSError:
        return os.environ.get("POD_NAMESPACE") or None


@dataclass(frozen=True)
class LeaderSettings:
    """Leader election with a coordination.k8s.io Lease (see docs/kubernetes.md)."""

    enabled: bool = False
    """Off: this replica acts at once and alone. On: only the holder of the Lease acts."""
    lease_name: str = "coalmine-controller"
    lease_namespace: str | None = None
    """None: the pod's namespace in a cluster, else the kubeconfig context's namespace."""
    lease_duration: float = 15.0
    """Seconds a Lease nobody renews stays valid: how long a crashed leader blocks others."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps acting without renewing; then it stops (before others start)."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""
    shards: int = 1
    """Above 1: the Canaries are split into this many shards by a hash of their uid, each
    with its Lease, shared out among the replicas (`kube.runtime.shards`); implies `enabled`."""

    @classmethod
    def scaled(
        cls, *, enabled: bool, lease_duration: float = 15.0, shards: int = 1
    ) -> LeaderSettings:
        """client-go's proportions (15 s, 10 s, 2 s) for another lease duration."""
        return cls(
            enabled=enabled or shards > 1,
            lease_duration=lease_duration,
            renew_deadline=lease_duration * 2 / 3,
            retry_period=lease_duration * 2 / 15,
            shards=shards,
        )

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= 1000:
            raise CoalmineError(f"--shards: expected 1 to 1000, got {self.shards}")
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise CoalmineError(
                "leader election needs retry_period < renew_deadline < lease_duration, got "
                f"{self.retry_period} < {self.renew_deadline} < {self.lease_duration}"
            )


@dataclass(frozen=True)
class HealthSettings:
    """What the liveness probe judges."""

    heartbeat: float = 1.0
    """Seconds between beats of the event loop's heartbeat."""
    stall_after: float = 10.0
    """/healthz fails when the event loop has not beaten for this many seconds."""


@dataclass(frozen=True)
class ServeSettings:
    """The controller's own HTTP endpoints."""

    metrics: Address = Address("0.0.0.0", 8080)  # noqa: S104 - scraped from outside the pod
    """`/metrics` (coalmine.telemetry)."""
    health: Address = Address("0.0.0.0", 8081)  # noqa: S104 - probed by the kubelet
    """`/healthz` (liveness) and `/readyz` (readiness)."""


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    json: bool = False
    """JSON lines instead of readable text (coalmine.logs)."""


@dataclass(frozen=True)
class ControllerSettings:
    """Everything `coalmine controller` is told at start-up."""

    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    scope: ScopeSettings = field(default_factory=ScopeSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    leader: LeaderSettings = field(default_factory=LeaderSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    logs: LogSettings = field(default_factory=LogSettings)
    identity: str = field(default_factory=default_identity)
    """This replica's name in Leases and in the Events it writes (reportingInstance)."""
