"""Run each strategy in turn under the same steady load, and account what users saw.

For each: the good release serves, the open-loop load starts (the same rate, path and
timeout for all), after a short warm-up the faulty release is shipped, the play waits
until it is undone, the load runs a little longer (to show the failures stopped), and
the play's objects are deleted before the next strategy starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from coalmine.demo.strategies import manifests as m
from coalmine.demo.strategies.exposure import Exposure, version_of
from coalmine.demo.strategies.options import CompareSettings
from coalmine.demo.strategies.plays import PLAYS, Play
from coalmine.demo.strategies.report import StrategyRun, run_problem
from coalmine.demo.strategies.watch import Outcomes
from coalmine.errors import CoalmineError
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.local.runtime import LocalRuntime

__all__ = ["compare"]

Print = Callable[[str], None]

WARM_UP = 2.0
"""Seconds of load on the good release before shipping (its requests must all succeed)."""
TAIL = 2.0
"""Seconds of load after the rollback, which must reach the good release only."""
LONGEST_RUN = 600.0
"""The load's planned duration; it is stopped when the play ends, long before."""
REQUEST_TIMEOUT = 5.0
GATEWAY_TIMEOUT = 30.0


async def compare(
    runtime: LocalRuntime, settings: CompareSettings, out: Print
) -> list[StrategyRun]:
    """Run every chosen strategy on the started `runtime`, one after the other."""
    runs = []
    for strategy in settings.strategies:
        play = PLAYS[strategy](runtime, settings, out)
        out(f"\n== {strategy.value}: {play.story}")
        try:
            runs.append(await _measure(play))
        finally:
            await play.tear_down()
    return runs


async def _measure(play: Play) -> StrategyRun:
    began = time.monotonic()
    await play.set_up()
    url = f"{play.runtime.gateway_url}{m.PATH}"
    headers = {"Host": m.host(play.namespace)}
    await _until_serving(url, headers)
    plan = LoadPlan(
        urls=(url,),
        rate=play.settings.rps,
        duration=LONGEST_RUN,
        headers=headers,
        timeout=REQUEST_TIMEOUT,
    )
    outcomes = Outcomes()
    generator = LoadGenerator(plan, on_outcome=outcomes.add)
    running = asyncio.create_task(generator.run())
    try:
        play.say(f"load: {play.settings.rps:g} requests/s to {m.host(play.namespace)}{m.PATH}")
        await asyncio.sleep(WARM_UP)
        shipped = outcomes.shipped = play.shipped = time.monotonic()
        await play.ship()
        undo = await play.undo(outcomes)
        await asyncio.sleep(TAIL)
    finally:
        generator.stop()
        await running
    exposure = Exposure.of(
        outcomes.all, shipped=shipped, bad_version=m.BAD.version, undone=undo.undone_at
    )
    play.say(
        f"{exposure.failed} of {exposure.requests} requests failed; "
        f"{m.BAD.version} answered {exposure.bad_answers} "
        f"({play.strategy.value} took {time.monotonic() - began:.0f}s, set-up included)"
    )
    return StrategyRun(
        strategy=play.strategy,
        exposure=exposure,
        found=undo.found,
        found_at=undo.found_at - shipped,
        undone=undo.undone,
        undone_at=undo.undone_at - shipped,
        problem=undo.problem
        or run_problem(outcomes.failed_before_shipping(), exposure, m.BAD.version),
    )


async def _until_serving(url: str, headers: dict[str, str]) -> None:
    """The good release answers through the gateway (bounded)."""
    deadline = time.monotonic() + GATEWAY_TIMEOUT
    last = "no answer yet"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url, headers=headers) as response:
                    body = await response.read()
                    if response.status == 200 and version_of(body) == m.GOOD.version:
                        return
                    last = f"{response.status} {body[:80]!r}"
            except aiohttp.ClientError as error:
                last = str(error)
            await asyncio.sleep(0.2)
    raise CoalmineError(
        f"the gateway did not serve {m.GOOD.version} at {url} within {GATEWAY_TIMEOUT:g}s "
        f"(last: {last})"
    )
