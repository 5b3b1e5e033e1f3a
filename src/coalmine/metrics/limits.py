"""Metric queries bounded: a pool for all of them, and per provider a pool and a rate limit.

A thousand canaries each asking two or three queries a tick must not open thousands of
requests at once, nor flood one Prometheus; and a slow Prometheus must delay only the
canaries that query it. So each query, before it is sent, takes:

1. a place among its provider's queries in flight (`per_provider`; providers are told
   apart by address), then waits for its provider's rate (`rate` per second, bursts of
   `burst`, a token bucket: each query reserves the next free moment, so waits are
   known at once and served in order);
2. then a place in the pool of all queries in flight (`in_flight`).

A provider that stops answering holds at most `per_provider` places of the pool, which
is larger, so the queries of the other providers go on (with `in_flight` above
`per_provider` times the slow providers). The order matters: taking the pool first
would let a slow provider's queued queries hold it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["QueryLimitSettings", "QueryLimits"]


@dataclass(frozen=True)
class QueryLimitSettings:
    in_flight: int = 64
    """Queries in flight at once, all providers together."""
    per_provider: int = 16
    """Queries in flight at once to one provider (address)."""
    rate: float = 100.0
    """Queries a second sent to one provider, on average."""
    burst: int = 20
    """Queries one provider may get at once after a quiet spell."""

    def __post_init__(self) -> None:
        if not 0 < self.per_provider <= self.in_flight:
            raise ValueError(
                f"metric query limits: per_provider ({self.per_provider}) must be between 1 "
                f"and in_flight ({self.in_flight})"
            )
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"metric query limits: rate ({self.rate}) > 0 and burst >= 1")


@dataclass
class _Provider:
    places: asyncio.Semaphore
    tokens: float
    stamp: float


@dataclass
class QueryLimits:
    settings: QueryLimitSettings = field(default_factory=QueryLimitSettings)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _providers: dict[str, _Provider] = field(default_factory=dict)
    _pool: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def query(self, provider: str) -> AsyncIterator[None]:
        """Hold the places one query to `provider` (its address) needs, for its duration."""
        state = self._provider(provider)
        async with state.places:
            wait = self._reserve(state)
            if wait > 0:
                await self.sleep(wait)
            async with self._shared():
                yield

    def in_flight(self, provider: str) -> int:
        """Queries to `provider` holding a place now (for tests and telemetry)."""
        state = self._providers.get(provider)
        return 0 if state is None else self.settings.per_provider - state.places._value

    def _shared(self) -> asyncio.Semaphore:
        if self._pool is None:  # made in the running loop
            self._pool = asyncio.Semaphore(self.settings.in_flight)
        return self._pool

    def _provider(self, address: str) -> _Provider:
        state = self._providers.get(address)
        if state is None:
            places = asyncio.Semaphore(self.settings.per_provider)
            state = _Provider(places, float(self.settings.burst), self.monotonic())
            self._providers[address] = state
        return state

    def _reserve(self, state: _Provider) -> float:
        """Take a token; the seconds to wait for it (it may be one not yet refilled)."""
        now = self.monotonic()
        refill = (now - state.stamp) * self.settings.rate
        state.tokens = min(float(self.settings.burst), state.tokens + refill)
        state.stamp = now
        state.tokens -= 1
        return 0.0 if state.tokens >= 0 else -state.tokens / self.settings.rate
