"""What every metrics provider shares: how to reach it, and how one is made.

The provider interface itself is `coalmine.engine.ports.MetricProvider` (re-exported here):
`query(promql) -> Measurement` that never raises, and `is_online()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from coalmine.engine.ports import MetricProvider
from coalmine.metrics.credentials import Credentials

__all__ = ["MetricProvider", "ProviderFactory", "ProviderSettings"]


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
