"""The open-loop load generator: requests leave on a clock, not when answers come back.

A closed loop (send, wait, send) slows down with the server and hides exactly the
slowness a canary analysis must see. Here request i leaves at start + i/rate; when
the event loop wakes late, every request due by then leaves at once, so the
offered rate holds. At most `max_in_flight` requests are out at any time; one
due while the cap is reached is dropped and counted, never queued.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp

from coalmine.errors import CoalmineError
from coalmine.load.failures import failure_kind
from coalmine.load.outcome import OnOutcome, RequestOutcome
from coalmine.load.plan import LoadPlan
from coalmine.load.result import LoadResult

__all__ = ["LoadGenerator", "generate_load"]

LONGEST_NAP = 0.05
"""Seconds the scheduler sleeps at most, so that stop() takes effect promptly at low rates."""


async def generate_load(
    plan: LoadPlan,
    *,
    session: aiohttp.ClientSession | None = None,
    on_outcome: OnOutcome | None = None,
) -> LoadResult:
    """Run `plan` to its end and return what happened."""
    return await LoadGenerator(plan, session=session, on_outcome=on_outcome).run()


class _Tally:
    """Counts as they happen; a LoadResult is made from it on demand."""

    def __init__(self) -> None:
        self.sent = 0
        self.dropped = 0
        self.abandoned = 0
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []


class LoadGenerator:
    """One run of a LoadPlan; watch it with `snapshot()`, end it early with `stop()`.

    `run()` returns the result. After `stop()` it returns at once with what was
    answered so far (requests still out count as abandoned). If the task running
    `run()` is cancelled, the cancellation propagates as asyncio expects, and
    `snapshot()` still gives the partial result. A session passed in is used and
    left open (its connector should allow `max_in_flight` connections); otherwise
    the generator makes its own and closes it. `on_outcome`, when given, is called
    with each request that ended (not with dropped or abandoned ones).
    """

    def __init__(
        self,
        plan: LoadPlan,
        *,
        session: aiohttp.ClientSession | None = None,
        on_outcome: OnOutcome | None = None,
    ) -> None:
        self.plan = plan
        self._session = session
        self._on_outcome = on_outcome
        self._timeout = aiohttp.ClientTimeout(total=plan.timeout)
        self._tally = _Tally()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stop_requested = False
        self._started: float | None = None
        self._sending_ended: float | None = None
        self._ended: float | None = None

    async def run(self) -> LoadResult:
        """Send the plan's load, wait for the answers (each bounded by the timeout), report."""
        if self._started is not None:
            raise CoalmineError("this LoadGenerator has run already; make a new one per run")
        self._started = time.monotonic()
        session = self._session or _new_session(self.plan)
        try:
            await self._send_on_schedule(session)
            await self._wait_for_answers()
        finally:
            await self._abandon_in_flight()
            self._ended = time.monotonic()
            if self._session is None:
                await session.close()
        return self.snapshot()

    def stop(self) -> None:
        """Stop sending and stop waiting; `run()` then returns the partial result."""
        self._stop_requested = True

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def snapshot(self, *, latencies: bool = True) -> LoadResult:
        """The result so far; `latencies=False` skips copying and sorting them (cheap, live)."""
        now = time.monotonic()
        started = self._started if self._started is not None else now
        tally = self._tally
        return LoadResult(
            target_rate=self.plan.rate,
            sending_seconds=(self._sending_ended or now) - started,
            elapsed_seconds=(self._ended or now) - started,
            sent=tally.sent,
            dropped=tally.dropped,
            abandoned=tally.abandoned,
            in_flight=len(self._in_flight),
            statuses=dict(tally.statuses),
            errors=dict(tally.errors),
            latencies=tuple(sorted(tally.latencies)) if latencies else (),
            stopped_early=self._stop_requested,
        )

    async def _send_on_schedule(self, session: aiohttp.ClientSession) -> None:
        """Launch request i at start + i/rate; return at start + duration (or on stop)."""
        assert self._started is not None
        start, rate, total = self._started, self.plan.rate, self.plan.request_count
        end = start + self.plan.duration
        launched = 0
        try:
            while not self._stop_requested:
                now = time.monotonic()
                due = min(total, int((now - start) * rate) + 1)
                for index in range(launched, due):
                    self._launch(session, index)
                launched = max(launched, due)
                next_at = start + launched / rate if launched < total else end
                if launched >= total and now >= end:
                    break
                await asyncio.sleep(min(max(next_at - now, 0.0), LONGEST_NAP))
        finally:
            self._sending_ended = time.monotonic()

    def _launch(self, session: aiohttp.ClientSession, index: int) -> None:
        if len(self._in_flight) >= self.plan.max_in_flight:
            self._tally.dropped += 1
            return
        self._tally.sent += 1
        url = self.plan.urls[index % len(self.plan.urls)]
        task = asyncio.create_task(self._request(session, url))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _request(self, session: aiohttp.ClientSession, url: str) -> None:
        """One request; its answer or its failure goes into the tally, never raises."""
        plan = self.plan
        began = time.monotonic()
        try:
            async with session.request(
                plan.method, url, headers=plan.headers, data=plan.body, timeout=self._timeout
            ) as response:
                body = await response.read()
        except Exception as error:  # a failed request is a result to count, not a crash
            kind = failure_kind(error)
            self._tally.errors[kind] += 1
            self._tell(RequestOutcome(began, time.monotonic(), None, kind))
            return
        ended = time.monotonic()
        self._tally.latencies.append(ended - began)
        self._tally.statuses[response.status] += 1
        self._tell(RequestOutcome(began, ended, response.status, None, body))

    def _tell(self, outcome: RequestOutcome) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    async def _wait_for_answers(self) -> None:
        """Wait for requests still out; each ends by its own timeout, or all on stop()."""
        while self._in_flight and not self._stop_requested:
            await asyncio.wait(set(self._in_flight), timeout=LONGEST_NAP)

    async def _abandon_in_flight(self) -> None:
        """Cancel what is still out (after stop() or a cancellation) and count it."""
        leftovers = set(self._in_flight)
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        self._tally.abandoned += len(leftovers)


def _new_session(plan: LoadPlan) -> aiohttp.ClientSession:
    """A session whose pool never queues below the in-flight cap, without cookies."""
    connector = aiohttp.TCPConnector(limit=plan.max_in_flight, limit_per_host=0)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
