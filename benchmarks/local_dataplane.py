"""The local data plane's figures: throughput and latency through Envoy versus straight to
a backend (wrk), and how fast a weight change reaches traffic.

Run:  .venv/bin/python benchmarks/local_dataplane.py [--seconds 5] [--connections 16]

Prints every figure and the wrk commands; the numbers belong in docs/local-dataplane.md.
Backends are small aiohttp apps in their own processes, answering with their name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from coalmine.local.envoy import (
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    EnvoyDataPlane,
    EnvoySettings,
    Listener,
    Route,
    VirtualHost,
)

BACKEND = """
import sys
from aiohttp import web
name = sys.argv[1]
async def answer(request):
    return web.Response(text=name, headers={"x-backend": name})
async def main():
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    import asyncio
    await asyncio.Event().wait()
import asyncio
asyncio.run(main())
"""

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@contextlib.asynccontextmanager
async def backend(name: str) -> AsyncIterator[int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BACKEND, name, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = int(await asyncio.wait_for(process.stdout.readline(), 10))
    try:
        yield port
    finally:
        process.terminate()
        await process.wait()


def split(ports: dict[str, int], weights: dict[str, int]) -> DataPlane:
    destinations = tuple(Destination(f"bench_{name}", weights[name]) for name in ports)
    host = VirtualHost("any", ("*",), (Route("main", destinations),))
    clusters = tuple(
        Cluster(f"bench_{name}", (Endpoint("127.0.0.1", port),)) for name, port in ports.items()
    )
    return DataPlane(listeners=(Listener(port=0, virtual_hosts=(host,)),), clusters=clusters)


async def wrk(url: str, seconds: int, connections: int) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    output, _ = await asyncio.wait_for(process.communicate(), seconds + 30)
    text = output.decode()
    latency = {
        q: float(v) * UNITS[u]
        for q, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", text, re.M)
    }
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return {
        "command": " ".join(command),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "failed": int(failed.group(1)) if failed else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


@contextlib.contextmanager
def rename_times() -> Iterator[list[float]]:
    """Record when each atomic rename happens (the moment Envoy can see a new file)."""
    times: list[float] = []
    original = os.replace

    def timed(source: Any, target: Any) -> None:
        original(source, target)
        times.append(time.perf_counter())

    os.replace = timed
    try:
        yield times
    finally:
        os.replace = original


class Poller(threading.Thread):
    """Sends requests back to back on one keep-alive connection, in its own thread (so
    that it keeps sending while the event loop writes files), recording when each was
    sent and which backend answered."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.seen: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        while not self.done.is_set():
            sent = time.perf_counter()
            connection.request("GET", "/")
            answer = connection.getresponse()
            answer.read()
            self.seen.append((sent, answer.headers.get("x-backend", "")))
        connection.close()


async def propagation(
    plane: EnvoyDataPlane, ports: dict[str, int], rounds: int
) -> tuple[list[float], int]:
    """Milliseconds from the rename of the routes file until the first request sent after
    it reaches the newly weighted backend; and how many requests sent after a rename still
    went the old way."""
    poller = Poller(*plane.gateway_address)
    poller.start()
    delays, stale = [], 0
    with rename_times() as renamed:
        for round_ in range(rounds):
            target = "b" if round_ % 2 == 0 else "a"
            renamed.clear()
            await plane.apply(split(ports, {"a": 0, "b": 0} | {target: 100}))
            await asyncio.sleep(0.05)
            after = [(sent, who) for sent, who in poller.seen if sent >= renamed[0]]
            first_new = next(sent for sent, who in after if who == target)
            delays.append((first_new - renamed[0]) * 1000)
            stale += sum(1 for sent, who in after if who != target)
    poller.done.set()
    await asyncio.to_thread(poller.join, 10)
    return delays, stale


async def changes_under_load(
    plane: EnvoyDataPlane, ports: dict[str, int], seconds: int, connections: int, changes: int
) -> tuple[dict[str, Any], list[float]]:
    host, port = plane.gateway_address
    load = asyncio.create_task(wrk(f"http://{host}:{port}/", seconds, connections))
    applies = []
    await asyncio.sleep(0.5)
    for change in range(changes):
        weight = change + 1  # a new configuration each time: Envoy validates every one
        started = time.perf_counter()
        await plane.apply(split(ports, {"a": 100 - weight, "b": weight}))
        applies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(max(0.0, (seconds - 1.0) / changes - applies[-1] / 1000))
    return await load, applies


def show(label: str, figures: dict[str, Any]) -> None:
    failed = figures["failed"] + figures["socket_errors"]
    print(
        f"{label:<22} {figures['rps']:>9.0f} req/s   p50 {figures['p50_ms']:6.2f} ms"
        f"   p99 {figures['p99_ms']:6.2f} ms   {figures['requests']} requests, {failed} failed"
        f"   ({figures['command']})"
    )


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms, max {max(values):.1f} ms"
        f" ({len(values)} changes)"
    )


async def main(seconds: int, connections: int) -> None:
    async with backend("a") as port_a, backend("b") as port_b:
        ports = {"a": port_a, "b": port_b}
        with tempfile.TemporaryDirectory(prefix="coalmine-bench-") as state:
            settings = EnvoySettings(state_dir=Path(state))
            async with EnvoyDataPlane(settings) as plane:
                await plane.apply(split(ports, {"a": 100, "b": 0}))
                host, port = plane.gateway_address
                direct = await wrk(f"http://127.0.0.1:{port_a}/", seconds, connections)
                proxied = await wrk(f"http://{host}:{port}/", seconds, connections)
                show("direct to a backend", direct)
                show("through Envoy", proxied)
                print(
                    f"Envoy/direct: throughput {proxied['rps'] / direct['rps']:.2f}x,"
                    f" p50 {proxied['p50_ms'] / direct['p50_ms']:.2f}x,"
                    f" p99 {proxied['p99_ms'] / direct['p99_ms']:.2f}x"
                )
                delays, stale = await propagation(plane, ports, rounds=40)
                print(
                    f"weight change, rename -> first request on the new split: {describe(delays)};"
                    f" {stale} requests sent after a rename still took the old split"
                )
                loaded, applies = await changes_under_load(
                    plane, ports, 2 * seconds, connections, 40
                )
                show("40 changes under load", loaded)
                print(f"apply() of a weight change (validation included): {describe(applies)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.connections))
