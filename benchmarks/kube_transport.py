"""Client CPU per Kubernetes API request: coalmine's client (aiohttp) and kr8s's (httpx).

Run: .venv/bin/python -m benchmarks.kube_transport [--requests 3000] [--concurrency 16]

The emulator serves from another process, so the CPU counted here (this process's) is the
client's alone: building the request, the HTTP exchange, decoding the answer. Each
client sends the same merge patches of a Canary-sized status and the same GETs, 16 at
once (the operator's `max_in_flight`), twice in turn; compare the rounds' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from queue import Queue
from typing import Any

OBJECTS = 200
KUBECONFIG = Path("/tmp/coalmine-kube-transport-kubeconfig")


def serve(ready: Queue[str]) -> None:
    """The emulator, in its own process, with a CRD and OBJECTS objects of it."""
    from tests.kube_emulator import KubeEmulator
    from tests.kube_emulator.samples import GROUP, widget, widget_crd

    async def main() -> None:
        async with KubeEmulator() as emulator:
            emulator.create("apiextensions.k8s.io/v1", "customresourcedefinitions", widget_crd())
            for n in range(OBJECTS):
                emulator.create(f"{GROUP}/v1", "widgets", widget(f"w{n}"), namespace="default")
            emulator.write_kubeconfig(KUBECONFIG)
            ready.put(emulator.url)
            await asyncio.sleep(3600)

    asyncio.run(main())


async def cpu_per_request(
    one: Callable[[int], Awaitable[Any]], count: int, concurrency: int
) -> float:
    """Milliseconds of this process's CPU per request, `concurrency` at once."""
    slots = asyncio.Semaphore(concurrency)

    async def limited(n: int) -> None:
        async with slots:
            await one(n)

    started = time.process_time()
    await asyncio.gather(*(limited(n) for n in range(count)))
    return (time.process_time() - started) * 1000 / count


async def measure(count: int, concurrency: int) -> None:
    import kr8s.asyncio
    from tests.kube_emulator.samples import GROUP

    from coalmine.kube.adapters.resources import Kind
    from coalmine.kube.runtime.connection import close, connect
    from coalmine.kube.runtime.settings import ClusterSettings

    widgets = Kind(f"{GROUP}/v1", "widgets", "Widget")
    client = await connect(ClusterSettings(kubeconfig=KUBECONFIG))
    api = await kr8s.asyncio.api(kubeconfig=str(KUBECONFIG))
    status = {
        "status": {
            "phase": "Progressing",
            "canaryWeight": 20,
            "failedChecks": 0,
            "conditions": [
                {
                    "type": "Promoted",
                    "status": "Unknown",
                    "reason": "Progressing",
                    "message": "x" * 80,
                }
            ],
        }
    }

    async def kr8s_call(method: str, n: int, body: Any = None) -> None:
        request: dict[str, Any] = {}
        if body is not None:
            request = {
                "content": json.dumps(body),
                "headers": {"Content-Type": "application/merge-patch+json"},
            }
        url = f"widgets/w{n % OBJECTS}" + ("/status" if body is not None else "")
        async with api.call_api(
            method,
            version=f"{GROUP}/v1",
            base="/apis",
            namespace="default",
            url=url,
            raise_for_status=False,
            **request,
        ) as response:
            response.json()

    clients: dict[str, dict[str, Callable[[int], Awaitable[Any]]]] = {
        "PATCH status": {
            "kr8s (httpx)": lambda n: kr8s_call("PATCH", n, status),
            "coalmine (aiohttp)": lambda n: client.merge_patch(
                widgets, f"w{n % OBJECTS}", "default", status, subresource="status"
            ),
        },
        "GET": {
            "kr8s (httpx)": lambda n: kr8s_call("GET", n),
            "coalmine (aiohttp)": lambda n: client.get(
                widgets, f"w{n % OBJECTS}", "default", fresh=True
            ),
        },
    }
    try:
        for each in clients.values():  # warm up: connections opened, code paths loaded
            for one in each.values():
                await cpu_per_request(one, 100, concurrency)
        print(f"{count} requests, {concurrency} at once, this process's CPU per request:")
        for round_ in (1, 2):
            for request, each in clients.items():
                figures = {
                    name: await cpu_per_request(one, count, concurrency)
                    for name, one in each.items()
                }
                old, new = figures["kr8s (httpx)"], figures["coalmine (aiohttp)"]
                print(
                    f"  round {round_}, {request:<13} kr8s (httpx) {old:6.3f} ms   "
                    f"coalmine (aiohttp) {new:6.3f} ms   ratio {old / new:5.1f}"
                )
    finally:
        await close(client)
        await api._session.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per figure")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    arguments = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    ready: Queue[str] = spawn.Queue()
    server = spawn.Process(target=serve, args=(ready,), daemon=True)
    server.start()
    try:
        ready.get(timeout=60)
        asyncio.run(measure(arguments.requests, arguments.concurrency))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
