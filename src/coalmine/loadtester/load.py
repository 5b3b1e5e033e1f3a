"""The `load` task: HTTP load at a fixed rate, with no external tool.

What the task needs from a load generator is small: a plan (URL, rate, duration,
method, headers) in, a tally out. `generate` is a minimal open-loop generator: request
i starts at `i / rps` seconds whatever the earlier ones are doing, so a slow canary
gets the rate it was promised instead of fewer requests (a closed loop would hide
exactly the latency the analysis is meant to see). Requests in flight are capped;
one that would pass the cap is counted as skipped rather than queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from coalmine.api.common import parse_duration

__all__ = ["LoadPlan", "LoadTally", "generate"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_RPS = 10_000.0
"""More than one Python process can send; use a dedicated tool (wrk) beyond it."""
MAX_IN_FLIGHT = 256
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoadPlan:
    url: str
    rps: float
    duration: float
    """Seconds."""
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> LoadPlan:
        """The plan a webhook's metadata asks for; ValueError naming the field otherwise."""
        url = metadata.get("url", "")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"metadata.url must be an http(s) URL, got {url!r}")
        method = metadata.get("method", "GET").upper()
        if method not in METHODS:
            raise ValueError(f"metadata.method must be one of {', '.join(METHODS)}, got {method!r}")
        return cls(
            url=url,
            rps=_rate(metadata.get("rps", "")),
            duration=_duration(metadata.get("duration", "")),
            method=method,
            headers=_headers(metadata.get("headers", "")),
        )

    @property
    def total(self) -> int:
        return int(self.rps * self.duration)


@dataclass
class LoadTally:
    """What happened to the requests of one run."""

    statuses: Counter[int] = field(default_factory=Counter)
    """Answers by HTTP status."""
    errors: int = 0
    """Requests that got no answer (connection error, timeout)."""
    skipped: int = 0
    """Requests not sent because too many were in flight."""

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.errors


def _rate(text: str) -> float:
    try:
        rps = float(text)
    except ValueError:
        raise ValueError(
            f"metadata.rps must be a number of requests per second, got {text!r}"
        ) from None
    if not 0 < rps <= MAX_RPS:
        raise ValueError(f"metadata.rps must be above 0 and at most {MAX_RPS:g}, got {text!r}")
    return rps


def _duration(text: str) -> float:
    if not text:
        raise ValueError('metadata.duration is required, for example "1m"')
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as error:
        raise ValueError(f"metadata.duration {error}") from None
    if seconds <= 0:
        raise ValueError(f"metadata.duration must be above 0, got {text!r}")
    return seconds


def _headers(text: str) -> tuple[tuple[str, str], ...]:
    """One `Name: value` per line, as curl -H takes them."""
    headers = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"metadata.headers: write one 'Name: value' per line, got {line!r}")
        headers.append((name.strip(), value.strip()))
    return tuple(headers)


async def generate(plan: LoadPlan) -> LoadTally:
    """Send `plan.total` requests spread evenly over `plan.duration` seconds."""
    tally = LoadTally()
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        in_flight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            for index in range(plan.total):
                delay = start + index / plan.rps - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(in_flight) >= MAX_IN_FLIGHT:
                    tally.skipped += 1
                    continue
                task = asyncio.create_task(_request(session, plan, tally))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT)
        finally:
            left = list(in_flight)
            for task in left:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*left, return_exceptions=True)
    return tally


async def _request(session: aiohttp.ClientSession, plan: LoadPlan, tally: LoadTally) -> None:
    try:
        async with session.request(plan.method, plan.url, headers=list(plan.headers)) as response:
            await response.read()
            tally.statuses[response.status] += 1
    except (aiohttp.ClientError, TimeoutError, OSError):
        tally.errors += 1
