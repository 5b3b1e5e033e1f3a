"""What the metrics providers share: their two interfaces, how to reach a server, and how
a provider is made.

- `MetricProvider`: a server that answers queries (Prometheus): `query(promql) ->
  Measurement` that never raises, and `is_online()`. MetricTemplates name these by type
  (`registry`).
- `BuiltinChecks`: the built-in checks (request-success-rate, request-duration, ...) of a
  Canary's primary or canary over an interval. Two providers implement them: PromQL on
  Prometheus (`metrics.measurer.MetricMeasurer`, with `metrics.builtins`' queries) and
  Envoy's own stats (`providers.envoy.measurer.EnvoyMeasurer`); tests/metrics/providers/
  test_contract.py checks that the two agree on the same traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from coalmine.api.canary import Canary
from coalmine.engine.observations import Measurement
from coalmine.metrics.builtins import Role
from coalmine.metrics.credentials import Credentials

__all__ = ["BuiltinChecks", "MetricProvider", "ProviderFactory", "ProviderSettings"]


class MetricProvider(Protocol):
    """A metrics backend that answers queries (Prometheus)."""

    async def query(self, query: str) -> Measurement:
        """One instant query; anything but a single finite number is "no data" with a reason."""
        ...

    async def is_online(self) -> bool: ...


class BuiltinChecks(Protocol):
    """The built-in checks, by name (`metrics.builtins`), of one side of a Canary."""

    async def measure_builtin(
        self, canary: Canary, name: str, *, role: Role = Role.CANARY, interval: str = "1m"
    ) -> Measurement:
        """Never raises: a check that cannot be measured is "no data" with the reason."""
        ...


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach one metrics server."""

    address: str
    """Base URL, for example http://prometheus.istio-system:9090 (a path prefix is kept)."""
    timeout: float = 5.0
    """Seconds one query may take, connecting included."""
    credentials: Credentials | None = None
    """A bearer token or basic auth; None sends none."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers on every request (a tenant header for Cortex or Mimir, say)."""
    verify_tls: bool = True
    """False skips certificate checks (MetricTemplate's insecureSkipVerify)."""

    def endpoint(self, path: str) -> str:
        return self.address.rstrip("/") + path


ProviderFactory = Callable[[ProviderSettings], MetricProvider]
"""Makes a provider for one server; the registry maps provider type names to these."""
