"""What a load run should do: where, how fast, for how long, with which request."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from coalmine.errors import CoalmineError

__all__ = ["LoadPlan"]


@dataclass(frozen=True)
class LoadPlan:
    """Open-loop load: `rate` requests per second for `duration` seconds, however slow the answers.

    Requests go to `urls` in turn (list a URL several times to weigh it more).
    Raises CoalmineError naming the field when a value cannot work.
    """

    urls: tuple[str, ...]
    """Absolute http(s) URLs, used round-robin."""
    rate: float
    """Requests per second offered, kept even when the server is slow."""
    duration: float
    """Seconds to send for."""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: float = 10.0
    """Seconds one request may take, connecting included, before it counts as a timeout."""
    max_in_flight: int = 1000
    """Requests outstanding at once; a request due while this many are out is dropped (counted)."""

    def __post_init__(self) -> None:
        if not self.urls:
            raise CoalmineError("urls: give at least one URL to send requests to")
        for url in self.urls:
            _check_url(url)
        _check_positive("rate", self.rate, "requests per second")
        _check_positive("duration", self.duration, "seconds")
        _check_positive("timeout", self.timeout, "seconds")
        if self.max_in_flight < 1:
            raise CoalmineError(f"max_in_flight: must be 1 or more, got {self.max_in_flight}")
        if not self.method.isalpha():
            raise CoalmineError(f"method: must be an HTTP method such as GET, got {self.method!r}")

    @property
    def request_count(self) -> int:
        """Requests the schedule holds: one every 1/rate seconds from 0 up to (not at) duration."""
        return max(1, math.ceil(self.rate * self.duration - 1e-9))


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CoalmineError(f"url {url!r}: must be an absolute http:// or https:// URL")


def _check_positive(name: str, value: float, unit: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise CoalmineError(f"{name}: must be more than 0 {unit}, got {value}")
