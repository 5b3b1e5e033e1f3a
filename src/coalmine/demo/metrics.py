"""The demo service's own Prometheus metrics, in a registry that belongs to one app.

A registry per app (never the global one) lets several demo apps live in one
process, as they do in tests, without their counts mixing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder

__all__ = ["DURATION_BUCKETS", "DemoMetrics"]

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds; fine below 1 s where the workshop's 1000 ms limit sits, up to the 60 s delay bound."""


class DemoMetrics:
    """Requests by method, path and code; their durations; what is in flight; the version."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("method", "path", "code")
        self.requests = Counter(
            "http_requests", "Requests answered.", labels, registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to answering it, delays included.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "Requests received and not yet answered.",
            registry=self.registry,
        )
        build = Info("demo_build", "The release this process serves.", registry=self.registry)
        build.info({"version": version})

    def observe(self, method: str, path: str, code: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, path, str(code)).inc()
        self.duration.labels(method, path, str(code)).observe(seconds)

    def exposition(self, accept_header: str) -> tuple[bytes, str]:
        """The metrics in the format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept_header)
        return encoder(self.registry), content_type
