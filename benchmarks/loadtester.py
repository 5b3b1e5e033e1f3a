"""How close the load tester's `load` task comes to the rate asked, and what a webhook costs.

The target is an aiohttp server in a separate process on 127.0.0.1 that counts requests.
The load tester runs in this process; each rate is asked for as a webhook would, by
POSTing `metadata.type: load` to it, and counted by the target once the task is over.
Then the round trip of one webhook call through `HttpHooks` to a local receiver.

    .venv/bin/python benchmarks/loadtester.py [--seconds 3] [--rates 100,1000,3000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
import urllib.request

import aiohttp
from aiohttp import web

from coalmine.api import CanaryWebhook, Phase, parse_resource
from coalmine.api.canary import Canary
from coalmine.hooks import HttpHooks
from coalmine.loadtester import create_app


def serve_counter(port: int) -> None:
    """The target: counts requests, answers /count with the count so far."""
    count = 0

    async def hit(request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        return web.Response(text="ok")

    async def total(request: web.Request) -> web.Response:
        return web.Response(text=str(count))

    app = web.Application()
    app.router.add_get("/hit", hit)
    app.router.add_get("/count", total)
    app.router.add_post("/hook", hit)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def count(base: str) -> int:
    with urllib.request.urlopen(f"{base}/count", timeout=5) as response:
        return int(response.read())


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            count(base)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the target at {base} did not start")


async def measure_rate(base: str, rps: float, seconds: float) -> None:
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    metadata = {"type": "load", "url": f"{base}/hit", "rps": str(rps), "duration": f"{seconds:g}s"}
    before = count(base)
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        payload = {"name": "bench", "namespace": "bench", "metadata": metadata}
        async with session.post(f"http://{host}:{port}/", json=payload) as response:
            assert response.status == 202, await response.text()
    previous = -1
    while (received := count(base) - before) != previous or time.perf_counter() - started < seconds:
        previous = received
        await asyncio.sleep(0.5)
    await runner.cleanup()
    print(
        f"| {rps:,.0f} | {seconds:g} s | {received:,} | {received / seconds:,.0f} "
        f"| {received / (rps * seconds):.1%} |"
    )


async def measure_hook(base: str, calls: int) -> None:
    canary = parse_resource(
        {
            "apiVersion": "coalmine.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "bench", "namespace": "bench"},
            "spec": {
                "targetRef": {"name": "bench"},
                "service": {"port": 80},
                "analysis": {"stepWeight": 20},
            },
        }
    )
    assert isinstance(canary, Canary)
    hook = CanaryWebhook(name="bench", url=f"{base}/hook")
    async with HttpHooks() as hooks:
        await hooks.call(canary, hook, Phase.PROGRESSING)  # open the connection
        started = time.perf_counter()
        for _ in range(calls):
            result = await hooks.call(canary, hook, Phase.PROGRESSING)
            assert result.ok, result.message
        elapsed = time.perf_counter() - started
    print(f"\nwebhook round trip (HttpHooks -> local aiohttp): {elapsed / calls * 1e3:.2f} ms mean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rates", default="100,1000,3000")
    parser.add_argument("--hook-calls", type=int, default=500)
    arguments = parser.parse_args()
    port = free_port()
    target = multiprocessing.Process(target=serve_counter, args=(port,), daemon=True)
    target.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base)
        columns = ["asked rps", "duration", "received", "received rps", "of asked"]
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for rate in arguments.rates.split(","):
            asyncio.run(measure_rate(base, float(rate), arguments.seconds))
        asyncio.run(measure_hook(base, arguments.hook_calls))
    finally:
        target.terminate()
        target.join(5)


if __name__ == "__main__":
    main()
