"""Readiness and liveness probes, counted against their thresholds as the kubelet does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from coalmine.api.workloads import Probe
from coalmine.local.processes.hostports import LOCALHOST
from coalmine.local.processes.settings import ProcessSettings

__all__ = [
    "Check",
    "ProbeTiming",
    "http_check",
    "tcp_check",
    "until_liveness_fails",
    "until_port_accepts",
    "until_started",
    "watch_readiness",
]

Check = Callable[[], Awaitable[str | None]]
"""One probe attempt: None when it passed, else why it failed."""


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, probe: Probe, settings: ProcessSettings) -> ProbeTiming:
        """The manifest's timing, with the settings' overrides (tests probe every 0.1 s)."""
        period = settings.probe_period_seconds
        timeout = settings.probe_timeout_seconds
        return cls(
            initial_delay=probe.initial_delay_seconds,
            period=probe.period_seconds if period is None else period,
            timeout=probe.timeout_seconds if timeout is None else timeout,
            success_threshold=probe.success_threshold,
            failure_threshold=probe.failure_threshold,
        )


def http_check(session: aiohttp.ClientSession, port: int, path: str, timeout: float) -> Check:
    """An httpGet probe: any status from 200 to 399 passes, as in Kubernetes."""
    url = f"http://{LOCALHOST}:{port}{path if path.startswith('/') else '/' + path}"

    async def check() -> str | None:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as reply:
                if 200 <= reply.status < 400:
                    return None
                return f"GET {url}: HTTP {reply.status}"
        except TimeoutError:
            return f"GET {url}: no answer within {timeout}s"
        except aiohttp.ClientError as error:
            return f"GET {url}: {error}"

    return check


def tcp_check(port: int, timeout: float) -> Check:
    """Does the port accept a TCP connection?"""

    async def check() -> str | None:
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(LOCALHOST, port)
        except (OSError, TimeoutError) as error:
            return f"connect to {LOCALHOST}:{port}: {error or 'timed out'}"
        writer.close()
        return None

    return check


async def watch_readiness(
    check: Check, timing: ProbeTiming, set_ready: Callable[[bool], None]
) -> None:
    """Probe forever: ready after `success_threshold` passes in a row, unready after
    `failure_threshold` failures in a row. Cancelled when the process exits."""
    await asyncio.sleep(timing.initial_delay)
    passes = failures = 0
    while True:
        if await check() is None:
            passes, failures = passes + 1, 0
            if passes >= timing.success_threshold:
                set_ready(True)
        else:
            passes, failures = 0, failures + 1
            if failures >= timing.failure_threshold:
                set_ready(False)
        await asyncio.sleep(timing.period)


async def until_liveness_fails(check: Check, timing: ProbeTiming) -> str:
    """Probe until `failure_threshold` failures in a row; returns the last failure."""
    await asyncio.sleep(timing.initial_delay)
    failures = 0
    while True:
        reason = await check()
        failures = 0 if reason is None else failures + 1
        if reason is not None and failures >= timing.failure_threshold:
            return reason
        await asyncio.sleep(timing.period)


async def until_started(check: Check, timing: ProbeTiming) -> str | None:
    """A startup probe: None once it passes; the last failure after `failure_threshold`
    failures in a row (the kubelet then restarts the container, as for liveness)."""
    await asyncio.sleep(timing.initial_delay)
    failures = 0
    while True:
        reason = await check()
        if reason is None:
            return None
        failures += 1
        if failures >= timing.failure_threshold:
            return reason
        await asyncio.sleep(timing.period)


async def until_port_accepts(port: int, period: float) -> None:
    """Without a readiness probe: wait until the process listens on its port."""
    check = tcp_check(port, timeout=max(period, 1.0))
    while True:
        if await check() is None:
            return
        await asyncio.sleep(period)
