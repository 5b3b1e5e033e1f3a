"""The parts of the data-plane model: clusters, listeners, virtual hosts and routes, as plain
frozen dataclasses; `model.DataPlane` is the whole, checked as one (`validation`).

They are apart from `DataPlane` so that the checks can name these types without importing
the module that runs them: `model` imports `validation`, `validation` imports `parts`.
Import them from `model`, which re-exports every one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from coalmine.metrics.providers.envoy.names import cluster_name

__all__ = [
    "GATEWAY",
    "ISTIO_DEFAULT_RETRIES",
    "ISTIO_RETRY_ON",
    "Cluster",
    "Destination",
    "Endpoint",
    "HeaderMatch",
    "HeaderOps",
    "Listener",
    "Mirror",
    "Retries",
    "Rewrite",
    "Route",
    "RouteMatch",
    "StringMatch",
    "VirtualHost",
    "cluster_name",
]

GATEWAY = "gateway"
"""Name of the user-facing listener; `EnvoyDataPlane.gateway_address` reports its address."""

ISTIO_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
"""Istio's default retryOn, used when a route's retries do not say."""


@dataclass(frozen=True)
class Endpoint:
    """One backend process: where Envoy connects."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Cluster:
    """A set of interchangeable endpoints (one Service, or one subset of it).

    No endpoints is allowed (a workload scaled to zero): requests routed to it get 503.
    """

    name: str
    endpoints: tuple[Endpoint, ...] = ()
    connect_timeout: timedelta = timedelta(seconds=1)


@dataclass(frozen=True)
class StringMatch:
    """Exact, prefix or RE2 regex match of a path or header value; for paths only, a
    prefix of whole segments (the Gateway API's PathPrefix)."""

    kind: Literal["exact", "prefix", "regex", "segments"]
    value: str

    @classmethod
    def exact(cls, value: str) -> StringMatch:
        return cls("exact", value)

    @classmethod
    def prefix(cls, value: str) -> StringMatch:
        return cls("prefix", value)

    @classmethod
    def segments(cls, value: str) -> StringMatch:
        """The path is `value` or continues it with `/` (`/demo` matches `/demo` and
        `/demo/x`, not `/demos`): Envoy's path_separated_prefix. `value` has no trailing
        `/`, `?` or `#`."""
        return cls("segments", value)

    @classmethod
    def regex(cls, value: str) -> StringMatch:
        """RE2 syntax (no lookaround, no backreferences): Envoy rejects the rest."""
        return cls("regex", value)


@dataclass(frozen=True)
class HeaderMatch:
    name: str
    match: StringMatch


@dataclass(frozen=True)
class RouteMatch:
    """All given conditions must hold. An empty match matches every request."""

    path: StringMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()
    query: tuple[HeaderMatch, ...] = ()
    """Query parameters, by name, with an exact or regex match of their value."""


@dataclass(frozen=True)
class HeaderOps:
    """Header changes: of a request before it leaves Envoy, or of an answer before the
    client gets it.

    `set` replaces any value the client sent, `add` appends another value, `remove` drops
    the header. Header names are case-insensitive (Envoy lowercases them).
    """

    set: Mapping[str, str] = field(default_factory=dict)
    add: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.set or self.add or self.remove)


@dataclass(frozen=True)
class Destination:
    """A share of a route's traffic, in percent of the requests it matches."""

    cluster: str
    weight: int
    headers: HeaderOps = HeaderOps()
    """Header changes for the requests that go to this destination only."""
    response_headers: HeaderOps = HeaderOps()
    """Header changes for the answers from this destination only (a Set-Cookie)."""


@dataclass(frozen=True)
class Mirror:
    """Send a copy of `percent` % of the route's requests to `cluster`; answers are dropped."""

    cluster: str
    percent: float = 100.0


@dataclass(frozen=True)
class Retries:
    """Istio's HTTPRetry: `attempts` is the number of retries after the first try. Each
    retry prefers a host not tried yet (Envoy's previous_hosts predicate), as Istio's."""

    attempts: int
    per_try_timeout: timedelta | None = None
    retry_on: str = ISTIO_RETRY_ON
    retriable_status_codes: tuple[int, ...] = ()
    """Answers retried under `retriable-status-codes` (Istio's default policy: 503)."""


ISTIO_DEFAULT_RETRIES = Retries(2, retriable_status_codes=(503,))
"""What Istio gives a route whose VirtualService sets no `retries` (pilot's
`retry.DefaultPolicy`): 2 retries on connect failures, refused streams and 503 answers."""


@dataclass(frozen=True)
class Rewrite:
    """What a route changes in a request before sending it on (the Gateway API's
    URLRewrite): the Host header, and the path by an RE2 `path_pattern` whose match is
    replaced by `path_substitution` (`\\1` for its first group). The query is kept."""

    host: str | None = None
    path_pattern: str | None = None
    path_substitution: str = ""


@dataclass(frozen=True)
class Route:
    """Requests matching any of `matches` (all, when empty) go to the destinations.

    In a virtual host, the first route whose match holds wins, as in a VirtualService.
    `timeout` None means no timeout, as in Istio (Envoy's own default would be 15 s).
    """

    name: str
    destinations: tuple[Destination, ...]
    matches: tuple[RouteMatch, ...] = ()
    headers: HeaderOps = HeaderOps()
    response_headers: HeaderOps = HeaderOps()
    """Header changes for the answers, before they leave Envoy."""
    mirror: Mirror | None = None
    timeout: timedelta | None = None
    retries: Retries | None = None
    rewrite: Rewrite | None = None


@dataclass(frozen=True)
class VirtualHost:
    """Routes for requests whose Host header (port ignored) matches one of `domains`.

    A domain is a name, `*`, or a name with a leading `*.` / trailing `.*` wildcard.
    A request whose Host matches no virtual host gets 404 from Envoy.
    """

    name: str
    domains: tuple[str, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Listener:
    """An address Envoy accepts HTTP on. The one named `gateway` is the user-facing one.

    Port 0 means "a free port, picked once": the data plane keeps the port it picked for
    this listener name across applies and Envoy restarts.
    """

    name: str = GATEWAY
    virtual_hosts: tuple[VirtualHost, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
