"""One operator, many Canaries progressing at once, against the API emulator (prints figures).

Run: .venv/bin/python -m benchmarks.operator_scale [--canaries 200] [--interval 5s]

The operator is the real `coalmine controller`, as its own process; this process runs
the API emulator, plays the Deployment controller (every rollout finishes at once) and
answers the Prometheus queries (every check passes). All Canaries are initialized,
then all get a new image at the same moment and go 20, 40, 60 % and promoted.

Figures: wall time of each stage, CPU seconds of the operator process (utime + stime
from /proc), its peak resident memory (VmHWM), ticks (the `_count` of
coalmine_canary_duration_seconds) and tick latency p50/p99 estimated from that
histogram's buckets (linear within a bucket, so as coarse as the buckets).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from tests.fixtures.operator import (
    NAMESPACE,
    MetricsStandIn,
    RolloutController,
    canary,
    deployment,
    install_crds,
)
from tests.kube_emulator import KubeEmulator

NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1"
MERGE = {"Content-Type": "application/merge-patch+json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_figures(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak resident memory in MiB of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return cpu, peak_kib / 1024


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """From cumulative (upper bound, count) buckets, linear within the bucket."""
    total = buckets[-1][1]
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            share = (rank - below) / (count - below) if count > below else 0.0
            return lower + (upper - lower) * share
        lower, below = upper, count
    return lower


async def tick_latency(metrics_url: str) -> tuple[int, float, float]:
    """Ticks, p50 and p99 of coalmine_canary_duration_seconds, all canaries together."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(metrics_url) as answer:
        text = await answer.text()
    merged: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "coalmine_canary_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                merged[bound] = merged.get(bound, 0.0) + sample.value
    buckets = sorted(merged.items())
    return int(buckets[-1][1]), quantile(buckets, 0.5), quantile(buckets, 0.99)


async def phases(http: aiohttp.ClientSession) -> dict[str, int]:
    async with http.get(f"/apis/coalmine.dev/v1beta1/namespaces/{NAMESPACE}/canaries") as answer:
        items = (await answer.json())["items"]
    counts: dict[str, int] = {}
    for item in items:
        phase = (item.get("status") or {}).get("phase") or "-"
        counts[phase] = counts.get(phase, 0) + 1
    return counts


async def wait_all(http: aiohttp.ClientSession, phase: str, count: int, deadline: float) -> None:
    end = time.monotonic() + deadline
    while (await phases(http)).get(phase, 0) < count:
        if time.monotonic() > end:
            raise SystemExit(f"not all {count} canaries reached {phase}: {await phases(http)}")
        await asyncio.sleep(0.5)


async def serve_metrics(stand_in: MetricsStandIn) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/api/v1/query", stand_in.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    stand_in.url = f"http://{host}:{port}"
    return runner


@dataclass
class Figures:
    count: int
    interval: str
    initialized: float = 0.0
    promoted: float = 0.0
    cpu_init: float = 0.0
    cpu: float = 0.0
    peak_mib: float = 0.0
    ticks: int = 0
    p50: float = 0.0
    p99: float = 0.0

    def print(self) -> None:
        per_tick = self.cpu / max(self.ticks, 1) * 1000
        rows = [
            ("canaries", f"{self.count}"),
            ("analysis interval", self.interval),
            ("all Initialized after", f"{self.initialized:.1f} s"),
            ("all Succeeded after the new image", f"{self.promoted:.1f} s"),
            ("operator CPU, initialization", f"{self.cpu_init:.1f} s"),
            ("operator CPU, whole run", f"{self.cpu:.1f} s ({per_tick:.1f} ms/tick)"),
            ("operator peak memory (VmHWM)", f"{self.peak_mib:.0f} MiB"),
            ("ticks", f"{self.ticks}"),
            ("tick latency p50 / p99", f"{self.p50 * 1000:.0f} ms / {self.p99 * 1000:.0f} ms"),
        ]
        print(f"command: .venv/bin/python -m benchmarks.operator "
              f"--canaries {self.count} --interval {self.interval}")  # fmt: skip
        for name, value in rows:
            print(f"{name:<36}{value}")


def seed(emulator: KubeEmulator, count: int, interval: str) -> None:
    install_crds(emulator)
    for n in range(count):
        emulator.create("apps/v1", "deployments", deployment(f"app-{n}"), namespace=NAMESPACE)
        analysis = {**canary()["spec"]["analysis"], "interval": interval}
        body = canary(f"app-{n}", analysis=analysis)
        emulator.create("coalmine.dev/v1beta1", "canaries", body, namespace=NAMESPACE)


def operator_command(kubeconfig: Path, metrics_server: str, metrics_port: int) -> list[str]:
    return [
        sys.executable, "-m", "coalmine", "controller", "--kubeconfig", str(kubeconfig),
        "--namespace", NAMESPACE, "--min-interval", "1s", "--metrics-server", metrics_server,
        "--metrics-addr", f"127.0.0.1:{metrics_port}", "--health-addr", "127.0.0.1:0",
        "--log-level", "warning",
    ]  # fmt: skip


def launch(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The operator as its own process, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


async def ship_all(http: aiohttp.ClientSession, count: int) -> None:
    containers = [{"name": "podinfod", "image": NEW_IMAGE,
                   "ports": [{"name": "http", "containerPort": 9898}]}]  # fmt: skip
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    for n in range(count):
        path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/app-{n}"
        await (await http.patch(path, json=patch, headers=MERGE)).read()


async def drive(http: aiohttp.ClientSession, pid: int, figures: Figures) -> None:
    """Wait for every canary to initialize, ship a new image to all, wait for promotion."""
    started = time.monotonic()
    await wait_all(http, "Initialized", figures.count, deadline=600)
    figures.initialized = time.monotonic() - started
    figures.cpu_init, _ = process_figures(pid)
    shipped = time.monotonic()
    await ship_all(http, figures.count)
    await wait_all(http, "Succeeded", figures.count, deadline=1200)
    figures.promoted = time.monotonic() - shipped
    figures.cpu, figures.peak_mib = process_figures(pid)


async def run(count: int, interval: str, workdir: Path) -> Figures:
    figures = Figures(count, interval)
    async with KubeEmulator(bookmark_interval=30) as emulator:
        seed(emulator, count, interval)
        rollouts = RolloutController(emulator, period=0.2)
        rollouts.settle()
        stand_in = MetricsStandIn()
        metrics_runner = await serve_metrics(stand_in)
        kubeconfig = emulator.write_kubeconfig(workdir / "kubeconfig")
        metrics_port = free_port()
        command = operator_command(kubeconfig, stand_in.url, metrics_port)
        playing = asyncio.create_task(rollouts.run())
        operator = launch(command, workdir / "operator.log")
        headers = {"Authorization": f"Bearer {emulator.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with aiohttp.ClientSession(
                emulator.url, headers=headers, timeout=timeout
            ) as http:
                await drive(http, operator.pid, figures)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            figures.ticks, figures.p50, figures.p99 = await tick_latency(metrics_url)
        finally:
            operator.terminate()
            await asyncio.to_thread(operator.wait, 60)
            playing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing
            await metrics_runner.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=200)
    parser.add_argument("--interval", default="5s", help="analysis.interval of every canary")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        figures = asyncio.run(run(arguments.canaries, arguments.interval, Path(workdir)))
    figures.print()


if __name__ == "__main__":
    main()
