"""In-cluster names, locally: where `http://go-demo-7-canary.go-demo-7/` and the load tester are.

A Canary written for Kubernetes names Services by their in-cluster DNS names, public
hosts served by a Gateway, and the load tester by its Service (`loadtester.coalmine`, or
Flagger's `flagger-loadtester.test`). Locally there is no DNS: requests for a name the
gateway answers for go to the gateway with the name as their Host header, and requests
for the load tester go to the one `coalmine up` runs. So the same Canary works in both
places without change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["LOADTESTER_NAMES", "Resolved", "Resolver"]

LOADTESTER_NAMES = ("loadtester", "flagger-loadtester")
"""First DNS labels that mean "the load tester"."""


@dataclass(frozen=True)
class Resolved:
    url: str
    host_header: str | None = None
    """The Host header to send, when the request goes to the gateway on a name's behalf."""


class Resolver:
    def __init__(
        self,
        gateway: Callable[[], tuple[str, int]],
        loadtester: Callable[[], tuple[str, int] | None],
        is_served: Callable[[str], bool],
    ) -> None:
        self.gateway = gateway
        self.loadtester = loadtester
        self.is_served = is_served
        """Whether the gateway answers for this host name (a Service's in-cluster name,
        or a host of a Gateway's VirtualService)."""

    def resolve(self, url: str) -> Resolved:
        parts = urlsplit(url)
        host = parts.hostname or ""
        first_label = host.split(".")[0]
        if first_label in LOADTESTER_NAMES and (address := self.loadtester()) is not None:
            return Resolved(_with_address(parts, address))
        if self.is_served(host):
            return Resolved(_with_address(parts, self.gateway()), host)
        return Resolved(url)


def _with_address(parts: SplitResult, address: tuple[str, int]) -> str:
    return urlunsplit(parts._replace(netloc=f"{address[0]}:{address[1]}"))
