"""How the Kubernetes API emulator scales with the number of objects (prints figures).

Run: .venv/bin/python -m benchmarks.kube_emulator [--sizes 50,200,5000] [--watchers 6]

Creates N custom resources, then times a LIST, a merge patch of each object's status, the
same patches again with W watches open on the resource (what three operator replicas
keep: each write is sent to every watcher), and a watch replay from resourceVersion 0.
Compare the per-object figures of the sizes: a ratio near 1 means the cost per object
stays flat. The watches are read by this process too, so the fan-out figure includes
their clients' reading (as it does in the operator benchmark, where the emulator and
the operators share the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import aiohttp
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.samples import GROUP, widget, widget_crd

MERGE = {"Content-Type": "application/merge-patch+json"}
BASE = f"/apis/{GROUP}/v1/namespaces/default/widgets"
WAIT_S = 300.0  # for the watchers to have read every event


class Seen:
    """Events read by all the watchers together; `reach` waits for a count."""

    def __init__(self) -> None:
        self.count, self.target = 0, 0
        self.reached = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.target:
            self.reached.set()

    async def reach(self, target: int) -> None:
        self.target = target
        self.reached.clear()
        if self.count < target:
            async with asyncio.timeout(WAIT_S):
                await self.reached.wait()


async def _drain(http: aiohttp.ClientSession, seen: Seen) -> None:
    """One watcher: read and count its events until cancelled."""
    params = {"watch": "true", "resourceVersion": "0", "timeoutSeconds": "600"}
    async with http.get(BASE, params=params) as stream:
        async for _line in stream.content:
            seen.add()


async def _patch_all(http: aiohttp.ClientSession, count: int, phase: str) -> None:
    for n in range(count):
        patch = {"status": {"phase": phase}}
        await (await http.patch(f"{BASE}/w{n}/status", json=patch, headers=MERGE)).read()


async def _measure(count: int, watchers: int) -> dict[str, float]:
    async with KubeEmulator() as emulator:
        headers = {"Authorization": f"Bearer {emulator.token}"}
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(emulator.url, headers=headers, timeout=timeout) as http:
            crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
            await (await http.post(crds, json=widget_crd())).read()
            started = time.perf_counter()
            for n in range(count):
                await (await http.post(BASE, json=widget(f"w{n}"))).read()
            created = time.perf_counter()
            await (await http.get(BASE)).read()
            listed = time.perf_counter()
            await _patch_all(http, count, "Ready")
            patched = time.perf_counter()
            seen = Seen()
            streams = [asyncio.create_task(_drain(http, seen)) for _ in range(watchers)]
            await seen.reach(count * watchers)  # every watcher has had the current state
            fanned_from = time.perf_counter()
            await _patch_all(http, count, "Steady")
            await seen.reach(2 * count * watchers)  # and every event of the patches
            fanned = time.perf_counter()
            for stream in streams:
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream
            replay_from = time.perf_counter()
            async with http.get(BASE, params={"watch": "true", "timeoutSeconds": "1"}) as stream:
                lines = 0
                async for _line in stream.content:
                    lines += 1
                    if lines == count:
                        break
            watched = time.perf_counter()
    return {
        "create ms/object": (created - started) * 1000 / count,
        "list ms": (listed - created) * 1000,
        "status patch ms/object": (patched - listed) * 1000 / count,
        f"patch, {watchers} watching, ms/obj": (fanned - fanned_from) * 1000 / count,
        "watch replay ms": (watched - replay_from) * 1000,
    }


async def main(sizes: list[int], watchers: int) -> None:
    results = [await _measure(size, watchers) for size in sizes]
    heading = "".join(f"{f'N={size}':>10}" for size in sizes)
    print(f"{'figure':<32}{heading}{'ratio':>8}")
    for name in results[0]:
        values = [result[name] for result in results]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{name:<32}{''.join(f'{v:>10.2f}' for v in values)}{ratio:>8.2f}")
    print(f"(ratio: N={sizes[-1]} over N={sizes[0]})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,5000", help="object counts, comma-separated")
    parser.add_argument("--watchers", type=int, default=6, help="watches open during the fan-out")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    asyncio.run(main(sizes, arguments.watchers))
