"""How long a tick takes on its own: its wall time less the time spent awaiting the metrics.

`coalmine_canary_duration_seconds` (Flagger's) is a tick's whole wall time, metric
queries included: at scale its tail is the metrics server's, not the operator's. The
operator's own share is what the issue's target bounds (tick p99 under 100 ms at a
thousand canaries), so it is measured apart, in the code path:

- `TickTimer.measuring()` wraps one tick of one Canary (`kube.runtime.daemons`): reading it
  from the cache, validating it, the engine, the API writes, and every wait for the
  event loop in between;
- `TimedMeasurer` and `TimedObserver` wrap the metric ports: while at least one of a
  tick's queries is in flight (they run concurrently), the tick's clock of "awaiting
  the metrics" runs, so overlapping queries are counted once, as wall time;
- the difference goes into one operator-wide histogram,
  `coalmine_tick_own_seconds`, with buckets fine around 100 ms. It has no per-Canary
  labels (a thousand Canaries would make a thousand series of buckets);
- the API requests are timed the same way (`awaiting_api`, which `kube.runtime.wiring` hands to
  the `KubeClient`): while one of the tick's requests is in flight or waits for a slot,
  into `coalmine_tick_api_seconds`, and the own time less that into
  `coalmine_tick_own_less_api_seconds`. The two tell the API server's answers (and the
  client's queue) from what the operator's process does itself: the engine, the cache
  reads, validation, and the waits for an event loop busy with other work.

The tick is found by a context variable: `asyncio.gather` copies the context into the
tasks of concurrent queries, and they share the one stopwatch it holds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.engine.observations import Measurement
from coalmine.engine.ports import Measurer, Observer
from coalmine.judge.observations import TickObservation

__all__ = [
    "BUCKETS",
    "RequestTimer",
    "Stopwatch",
    "TickTimer",
    "TimedMeasurer",
    "TimedObserver",
    "awaiting_api",
]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds; fine below and around the 100 ms target."""

T = TypeVar("T")

_current: ContextVar[Stopwatch | None] = ContextVar("coalmine_tick_stopwatch", default=None)


class Waiting:
    """The wall time during which at least one call of a kind was in flight: calls that
    overlap are counted once."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.seconds = 0.0
        self._in_flight = 0
        self._since = 0.0

    def enter(self) -> None:
        if self._in_flight == 0:
            self._since = self.clock()
        self._in_flight += 1

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.seconds += self.clock() - self._since


class Stopwatch:
    """One tick: when it began, and the wall time awaiting metric queries and API requests."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.began = clock()
        self.metrics = Waiting(clock)
        self.api = Waiting(clock)
        self.counted = False
        """Set by the tick once it advanced the Canary; others (not this replica's
        shard, an invalid spec) are not recorded."""

    @property
    def awaiting_metrics(self) -> float:
        return self.metrics.seconds

    def enter(self) -> None:
        """A metric query begins."""
        self.metrics.enter()

    def leave(self) -> None:
        self.metrics.leave()

    def own(self) -> float:
        """Seconds since the tick began, less those awaiting the metrics."""
        return self.clock() - self.began - self.metrics.seconds


class TickTimer:
    """The histogram of ticks' own durations; construct once per registry."""

    def __init__(
        self, registry: CollectorRegistry, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.clock = clock
        self.own = Histogram(
            "coalmine_tick_own_seconds",
            "Seconds of one tick (all canaries together) not spent awaiting metric queries:"
            " the engine, API reads and writes, and waits for the event loop",
            buckets=BUCKETS,
            registry=registry,
        )
        self.api = Histogram(
            "coalmine_tick_api_seconds",
            "Seconds of one tick awaiting Kubernetes API requests (answers, and slots of"
            " the client's in-flight limit)",
            buckets=BUCKETS,
            registry=registry,
        )
        self.own_less_api = Histogram(
            "coalmine_tick_own_less_api_seconds",
            "Seconds of one tick awaiting neither metric queries nor API requests: the"
            " operator's own work and its waits for the event loop",
            buckets=BUCKETS,
            registry=registry,
        )

    @contextlib.contextmanager
    def measuring(self) -> Iterator[Stopwatch]:
        """Time the tick run inside; recorded when the tick sets `counted`."""
        watch = Stopwatch(self.clock)
        token = _current.set(watch)
        try:
            yield watch
        finally:
            _current.reset(token)
            if watch.counted:
                own = max(watch.own(), 0.0)
                self.own.observe(own)
                self.api.observe(watch.api.seconds)
                self.own_less_api.observe(max(own - watch.api.seconds, 0.0))


class RequestTimer:
    """Every API request's wait for a slot of the client's in-flight limit, and its time
    from sending to the whole answer (`KubeClient.request_timing`): what a tick's API
    wait is made of. An answer the server gave at once still waits, in this time, for
    this process's event loop to read it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queued = Histogram(
            "coalmine_kube_request_queue_seconds",
            "Seconds a Kubernetes API request waited for a slot of the in-flight limit",
            buckets=BUCKETS,
            registry=registry,
        )
        self.answered = Histogram(
            "coalmine_kube_request_seconds",
            "Seconds from sending a Kubernetes API request to reading its whole answer",
            buckets=BUCKETS,
            registry=registry,
        )

    def __call__(self, queued: float, answered: float) -> None:
        self.queued.observe(queued)
        self.answered.observe(answered)


async def _awaiting_metrics(call: Awaitable[T]) -> T:
    watch = _current.get()
    if watch is None:
        return await call
    return await _timed(watch.metrics, call)


async def awaiting_api(call: Awaitable[T]) -> T:
    """`call` (one API request of the `KubeClient`), timed as awaiting the API for the
    tick that makes it, if any."""
    watch = _current.get()
    if watch is None:
        return await call
    return await _timed(watch.api, call)


async def _timed(waiting: Waiting, call: Awaitable[T]) -> T:
    waiting.enter()
    try:
        return await call
    finally:
        waiting.leave()


class TimedMeasurer:
    """A Measurer whose calls count as awaiting the metrics for the tick that makes them."""

    def __init__(self, inner: Measurer) -> None:
        self.inner = inner

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        return await _awaiting_metrics(self.inner.measure(canary, metric))

    async def unavailable(self, canary: Canary) -> str | None:
        return await _awaiting_metrics(self.inner.unavailable(canary))


class TimedObserver:
    """The judge's per-side counts (Prometheus queries too), timed like the measurer."""

    def __init__(self, inner: Observer) -> None:
        self.inner = inner

    async def observe(self, canary: Canary, window_seconds: float) -> TickObservation:
        return await _awaiting_metrics(self.inner.observe(canary, window_seconds))
