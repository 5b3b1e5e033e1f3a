"""What a revision's canary served, from Envoy's counters, against the answers the clients
got: a real local analysis promoted, then one rolled back."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import aiohttp
import pytest

from coalmine.api.canary import Phase
from coalmine.local.runtime import LocalRuntime
from coalmine.local.store import Store
from coalmine.web.runtime import RuntimeSource
from tests.fixtures.analysis import HOST, load_through
from tests.fixtures.local import NAMESPACE, demo_manifests, wait_for_phase, wait_until

pytestmark = pytest.mark.slow

VERSION = re.compile(r"version (\S+)")


class Counting:
    """Requests at `rate` per second, each answer counted by the version that gave it."""

    def __init__(self, url: str, rate: float) -> None:
        self.url, self.rate = url, rate
        self.versions: Counter[str] = Counter()
        """Answers by the version in their body; "" for answers without one (Envoy's own)."""
        self.unanswered = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(headers=HOST, timeout=timeout) as http:
            sent: set[asyncio.Task[None]] = set()
            while not self._stop.is_set():
                task = asyncio.create_task(self._one(http))
                sent.add(task)
                task.add_done_callback(sent.discard)
                await asyncio.sleep(1 / self.rate)
            if sent:
                await asyncio.wait(sent, timeout=15)

    async def _one(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(self.url) as answer:
                found = VERSION.search(await answer.text())
        except (aiohttp.ClientError, TimeoutError):
            self.unanswered += 1
            return
        self.versions[found.group(1) if found else ""] += 1

    def stop(self) -> None:
        self._stop.set()


def ticks(store: Store) -> int:
    return len(store.ticks(NAMESPACE, "go-demo-7", limit=10000))


async def test_requests_and_errors_served_are_envoys_counts(local_runtime: LocalRuntime) -> None:
    runtime = local_runtime
    await runtime.apply(demo_manifests("0.0.1"), "test")
    await wait_for_phase(runtime, Phase.INITIALIZED)
    async with load_through(runtime, "/demo/hello") as promotion:
        await runtime.apply(demo_manifests("0.0.2"), "test")
        await wait_for_phase(runtime, Phase.PROGRESSING)
        await wait_for_phase(runtime, Phase.SUCCEEDED, within=90)

    # 0.0.3 answers every request with a 500 naming its version: the client knows exactly
    # which answers the canary gave.
    await runtime.apply(demo_manifests("0.0.3", env={"DEMO_ERROR_RATE": "1.0"}), "test")
    await wait_for_phase(runtime, Phase.PROGRESSING)
    client = Counting(runtime.gateway_url + "/demo/random-error", rate=40)
    sending = asyncio.create_task(client.run())
    try:
        await wait_for_phase(runtime, Phase.FAILED, within=60)
    finally:
        client.stop()
        await sending
    seen = ticks(runtime.store)  # two more ticks: the last answers are counted
    await wait_until(lambda: ticks(runtime.store) >= seen + 2, "two more ticks", within=20)
    await runtime.sampler.close()

    history = await RuntimeSource(runtime).history(NAMESPACE, "go-demo-7")
    _, promoted, rolled_back = history.revisions
    assert (promoted.verdict, rolled_back.verdict) == ("Succeeded", "Failed")
    canary_answers = client.versions["0.0.3"]
    assert canary_answers > 20, client.versions
    assert rolled_back.requests is not None and rolled_back.errors is not None
    # Every answer 0.0.3 gave is counted once; Envoy's own answers (no version) and
    # requests the client gave up on may have been the canary's too.
    leeway = client.versions[""] + client.unanswered
    assert canary_answers <= rolled_back.requests <= canary_answers + leeway, client.versions
    assert rolled_back.errors == rolled_back.requests  # 0.0.3 fails every request
    assert promotion.result is not None
    assert promoted.requests is not None and 0 < promoted.requests <= promotion.result.sent
    assert promoted.errors == 0
