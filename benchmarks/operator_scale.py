"""Many Canaries on one operator (or a few sharded ones), against the API emulator (prints figures).

Run: .venv/bin/python -m benchmarks.operator_scale [--canaries 1000] [--interval 60s]

The operator is the real `coalmine controller`, as its own process. This process runs the
API emulator and plays the Deployment controller (every rollout finishes at once; it
scans the stored Deployments without copying them, `KubeEmulator.peek`); Prometheus is a
stand-in in a third process that answers every query at once (every check passes), so
the operator's tick latency is its own, not the emulator's queue. Time is not compressed:
an interval is an interval of the wall clock. The benchmark itself sends no API request:
it reads phases and ships images in-process, so every request the emulator records is
the operator's (Lease requests, per replica and not per tick, are left out of the
counts). With `--replicas N`, N operators run with `--shards N`, and at the end one is
SIGKILLed and the time until its shards are renewed by the others is measured. Stages:

1. all Canaries are created, the operator starts, all get Initialized;
2. steady: one interval with nothing to do; API reads and writes per tick;
3. all get a new image at the same moment and go 20, 40, 60 % and promoted; writes per
   tick, operator CPU (utime + stime from /proc) over the wall time;
4. throughout 2 and 3, every interval, which canaries ticked (per-canary tick counts from
   the operator's /metrics): "ticked within their interval" is the share of (canary,
   interval) pairs with at least one tick.

Tick latency p50/p99 is from the operator's coalmine_canary_duration_seconds histogram
over stage 3 (linear within a bucket, so as coarse as the buckets): a tick's whole wall
time, metric queries included. "Metric queries left out" is coalmine_tick_own_seconds
(kube.runtime.tick_timing): the same ticks less the wall time their metric queries were awaited,
measured in the operator's code path (the engine, the cache reads, the API writes and
every wait for the event loop stay in), with buckets fine around 100 ms. That own time is
split again: the wall time its API requests were awaited (`coalmine_tick_api_seconds`:
the emulator's answers, and the client's queue for a slot) and the rest
(`coalmine_tick_own_less_api_seconds`: the engine, the cache, and waits for the event
loop). `coalmine_event_loop_lag_seconds` is how late the operator's event loop ran a
timer (`kube.runtime.loop_lag`): what everything ready waited for.

`--scrape-every SECONDS` also scrapes every operator's /metrics that often from its
start, as a Prometheus does (15 to 30 s; OpenMetrics, the body read and dropped), beside
the benchmark's own scrapes (about one per interval).

`--profile FILE` samples the operator with py-spy (`pip install py-spy`) while all
progress, non-blocking, 50 samples a second, into FILE (collapsed stacks, for
flamegraph.pl or speedscope); `--profile-emulator FILE` samples this process (the
emulator and the Deployment stand-in) the same way. The figures of such a run include
py-spy's cost. `--logs DIR` keeps the operators' logs (`operator-N.log`) in DIR;
`--log-level info` makes them say when a replica takes or gives up a shard and when its
read cache lists again (the default, warning, keeps the logs small).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import copy
import functools
import gc
import multiprocessing
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
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
from tests.kube_emulator.server import LISTEN_BACKLOG

from coalmine.kube.runtime.loop_lag import LoopLag

NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


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


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU the whole machine has been busy and has had (all cores), from
    /proc/stat: busy is everything but idle and iowait (steal included, when reported)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


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


@dataclass
class Scrape:
    """The operator's tick figures at one moment: per-canary counts, merged buckets."""

    counts: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)
    own: dict[float, float] = field(default_factory=dict)
    """coalmine_tick_own_seconds: ticks less the time awaiting metric queries."""
    full_gc: dict[float, float] = field(default_factory=dict)
    """coalmine_gc_pause_seconds of full (generation 2) collections, "+Inf" the count."""
    full_gc_seconds: float = 0.0
    api: dict[float, float] = field(default_factory=dict)
    """coalmine_tick_api_seconds: a tick's time awaiting the API."""
    own_less_api: dict[float, float] = field(default_factory=dict)
    lag: dict[float, float] = field(default_factory=dict)
    """coalmine_event_loop_lag_seconds."""
    queued: dict[float, float] = field(default_factory=dict)
    """coalmine_kube_request_queue_seconds: each request's wait for an in-flight slot."""
    answered: dict[float, float] = field(default_factory=dict)
    """coalmine_kube_request_seconds: each request, from sending to its whole answer."""

    @property
    def ticks(self) -> float:
        return sum(self.counts.values())

    def add(self, other: Scrape) -> None:
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0.0) + value
        for bound, value in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0.0) + value
        for bound, value in other.own.items():
            self.own[bound] = self.own.get(bound, 0.0) + value
        for bound, value in other.full_gc.items():
            self.full_gc[bound] = self.full_gc.get(bound, 0.0) + value
        self.full_gc_seconds += other.full_gc_seconds
        for mine, theirs in (
            (self.api, other.api),
            (self.own_less_api, other.own_less_api),
            (self.lag, other.lag),
            (self.queued, other.queued),
            (self.answered, other.answered),
        ):
            for bound, value in theirs.items():
                mine[bound] = mine.get(bound, 0.0) + value


async def scrape(http: aiohttp.ClientSession, urls: list[str]) -> Scrape:
    """The operators' figures now. The text is parsed in another process: parsing a
    thousand canaries' /metrics takes about half a second, and in this process it would
    stall the emulator's event loop, which then answered the operator late (seen as the
    tick's API wait: the p99 of the ticks that met a scrape)."""
    total = Scrape()
    for url in urls:
        async with http.get(url) as answer:
            text = await answer.text()
        found = await asyncio.get_running_loop().run_in_executor(_parser(), parsed, text)
        total.add(found)
    return total


@functools.cache
def _parser() -> concurrent.futures.ProcessPoolExecutor:
    spawn = multiprocessing.get_context("spawn")
    return concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn)


def parsed(text: str) -> Scrape:
    """The figures of one operator's /metrics text."""
    found = Scrape()
    histograms = {
        "coalmine_tick_own_seconds": found.own,
        "coalmine_tick_api_seconds": found.api,
        "coalmine_tick_own_less_api_seconds": found.own_less_api,
        "coalmine_event_loop_lag_seconds": found.lag,
        "coalmine_kube_request_queue_seconds": found.queued,
        "coalmine_kube_request_seconds": found.answered,
    }
    for family in text_string_to_metric_families(text):
        if family.name in histograms:
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    histograms[family.name][float(sample.labels["le"])] = sample.value
        if family.name == "coalmine_gc_pause_seconds":
            for sample in family.samples:
                if sample.labels.get("generation") != "2":
                    continue
                if sample.name.endswith("_bucket"):
                    found.full_gc[float(sample.labels["le"])] = sample.value
                elif sample.name.endswith("_sum"):
                    found.full_gc_seconds = sample.value
        if family.name != "coalmine_canary_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                found.counts[sample.labels["name"]] = sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                found.buckets[bound] = found.buckets.get(bound, 0.0) + sample.value
    return found


def latency(before: dict[float, float], after: dict[float, float]) -> tuple[float, float]:
    """p50 and p99 of the ticks between two scrapes of one histogram's buckets."""
    buckets = sorted((bound, value - before.get(bound, 0.0)) for bound, value in after.items())
    if not buckets or buckets[-1][1] <= 0:
        return 0.0, 0.0
    return quantile(buckets, 0.5), quantile(buckets, 0.99)


def share_over(before: dict[float, float], after: dict[float, float], bound: float) -> float:
    """The share of observations between two scrapes above `bound` (a bucket's bound)."""
    total = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    within = after.get(bound, 0.0) - before.get(bound, 0.0)
    return (total - within) / total if total > 0 else 0.0


def phases(emulator: KubeEmulator) -> Counter[str]:
    return Counter(
        (item.get("status") or {}).get("phase") or "-"
        for item in emulator.peek("coalmine.dev/v1beta1", "canaries", NAMESPACE)
    )


async def wait_all(emulator: KubeEmulator, phase: str, count: int, deadline: float) -> None:
    """Until every Canary is in `phase`; the phases so far on stderr every 30 s."""
    began = time.monotonic()
    end, shown = began + deadline, began
    while phases(emulator)[phase] < count:
        now = time.monotonic()
        if now > end:
            raise SystemExit(f"not all {count} canaries reached {phase}: {phases(emulator)}")
        if now - shown >= 30:
            print(f"{now - began:.0f} s: {dict(phases(emulator))}", file=sys.stderr, flush=True)
            shown = now
        await asyncio.sleep(1.0)


def ship_all(emulator: KubeEmulator, count: int) -> None:
    """`kubectl set image` on every target, in-process (no request of the benchmark's)."""
    rt = emulator._type("apps/v1", "deployments")
    for n in range(count):
        body = emulator.get("apps/v1", "deployments", f"app-{n}", NAMESPACE)
        assert body is not None
        body = copy.deepcopy(body)
        body["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE
        emulator.registry.replace(rt, NAMESPACE, f"app-{n}", body, "")


def requests_since(emulator: KubeEmulator, start: int) -> tuple[int, int]:
    """API reads (GETs, watches excluded) and writes recorded since index `start`, Lease
    requests excluded (leader election and shards: per replica, not per tick)."""
    reads = writes = 0
    for request in emulator.requests[start:]:
        if "/leases" in request.path:
            continue
        if request.method == "GET" and request.query.get("watch") not in ("true", "1"):
            reads += 1
        elif request.method in WRITES:
            writes += 1
    return reads, writes


def served_writes(emulator: KubeEmulator, start: int) -> tuple[tuple[float, float], Counter[int]]:
    """The emulator's own time per write since index `start` (p50, p99; Leases left out),
    and the writes' answers by status: the server's part of the operators' API wait."""
    seconds, answers = [], Counter[int]()
    for request in emulator.requests[start:]:
        if request.method in WRITES and "/leases" not in request.path:
            seconds.append(request.seconds)
            answers[request.status] += 1
    seconds.sort()
    if not seconds:
        return (0.0, 0.0), answers
    return (seconds[len(seconds) // 2], seconds[int(len(seconds) * 0.99)]), answers


@dataclass
class Figures:
    count: int
    interval: str
    replicas: int
    scrape_every: float = 0.0
    initialized: float = 0.0
    steady_ticks: float = 0.0
    steady_reads: int = 0
    steady_writes: int = 0
    progress_seconds: float = 0.0
    progress_ticks: float = 0.0
    progress_writes: int = 0
    progress_cpu: float = 0.0
    machine_busy: float = 0.0
    """The share of all the machine's cores busy while all progress (any process)."""
    peak_mib: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    own_p50: float = 0.0
    own_p99: float = 0.0
    api_p50: float = 0.0
    api_p99: float = 0.0
    rest_p50: float = 0.0
    rest_p99: float = 0.0
    lag_p50: float = 0.0
    lag_p99: float = 0.0
    lag_over_100ms: float = 0.0
    """Share of the loop's wake-ups more than 100 ms late."""
    queued: tuple[float, float] = (0.0, 0.0)
    """An API request's wait for an in-flight slot while all progress, p50 and p99."""
    answered: tuple[float, float] = (0.0, 0.0)
    """An API request from sending to its whole answer, in the operator, p50 and p99."""
    steady_own_p99: float = 0.0
    full_gcs: float = 0.0
    full_gc_seconds: float = 0.0
    full_gc_p99: float = 0.0
    windows: int = 0
    pairs: int = 0
    on_time: int = 0
    emulator_cpu: float = 0.0
    emulator_progress_cpu: float = 0.0
    served: tuple[float, float] = (0.0, 0.0)
    """The emulator's own time per write while all progress, p50 and p99 (`served_writes`)."""
    answers: Counter[int] = field(default_factory=Counter)
    """Those writes' answers, by status."""
    emulator_lag: tuple[float, float] = (0.0, 0.0)
    """This process's event-loop lag while all progress (`EMULATOR_LAG`), p50 and p99."""
    emulator_pauses: list[float] = field(default_factory=list)
    emulator_peak_mib: float = 0.0
    """This process's full garbage collections, in seconds each (the emulator stops meanwhile)."""
    wall: float = 0.0
    warnings: Counter[str] = field(default_factory=Counter)
    """The operators' WARNING and ERROR log lines, by their first words."""
    takeover: float | None = None
    """Seconds from SIGKILL of one replica until every shard's Lease is renewed by another."""

    def print(self) -> None:
        interval = self.interval
        rows = [
            ("canaries / operator replicas", f"{self.count} / {self.replicas}"),
            ("analysis interval (wall clock)", interval),
            ("all Initialized after", f"{self.initialized:.0f} s"),
            ("steady interval: ticks", f"{self.steady_ticks:.0f}"),
            ("API reads per steady tick", f"{self.steady_reads / max(self.steady_ticks, 1):.3f}"
             f" ({self.steady_reads} reads)"),
            ("API writes per steady tick", f"{self.steady_writes / max(self.steady_ticks, 1):.3f}"
             f" ({self.steady_writes} writes)"),
            ("all Succeeded after the new image", f"{self.progress_seconds:.0f} s"),
            ("API writes per tick while progressing",
             f"{self.progress_writes / max(self.progress_ticks, 1):.2f}"
             f" ({self.progress_writes} writes, {self.progress_ticks:.0f} ticks)"),
            ("operator CPU while all progress",
             f"{self.progress_cpu / max(self.progress_seconds, 1e-9):.3f} core"
             f" ({self.progress_cpu:.1f} s over {self.progress_seconds:.0f} s)"),
            ("the machine's CPU busy while all progress",
             f"{self.machine_busy * 100:.0f} % of {os.cpu_count()} cores (every process)"),
            ("operator peak memory (VmHWM, largest replica)", f"{self.peak_mib:.0f} MiB"),
            ("tick latency p50 / p99 while progressing",
             f"{self.p50 * 1000:.0f} ms / {self.p99 * 1000:.0f} ms"),
            ("  the same, metric queries left out",
             f"{self.own_p50 * 1000:.1f} ms / {self.own_p99 * 1000:.1f} ms"),
            ("    of which awaiting API requests (p50 / p99)",
             f"{self.api_p50 * 1000:.1f} ms / {self.api_p99 * 1000:.1f} ms"),
            ("    the rest: engine, cache, event-loop waits",
             f"{self.rest_p50 * 1000:.1f} ms / {self.rest_p99 * 1000:.1f} ms"),
            ("    one request: waiting for a slot (p50 / p99)",
             f"{self.queued[0] * 1000:.1f} ms / {self.queued[1] * 1000:.1f} ms"),
            ("    one request: sent to read, operator side",
             f"{self.answered[0] * 1000:.1f} ms / {self.answered[1] * 1000:.1f} ms"),
            ("event-loop lag while progressing (p50 / p99)",
             f"{self.lag_p50 * 1000:.1f} ms / {self.lag_p99 * 1000:.1f} ms,"
             f" {self.lag_over_100ms * 100:.1f} % of wake-ups over 100 ms late"),
            ("tick p99 while steady, metric queries left out",
             f"{self.steady_own_p99 * 1000:.1f} ms"),
            ("full garbage collections while progressing",
             f"{self.full_gcs:.0f}, {self.full_gc_seconds * 1000:.0f} ms in all,"
             f" p99 {self.full_gc_p99 * 1000:.0f} ms"),
            ("canaries ticked within each interval",
             f"{self.on_time} of {self.pairs} ({self.windows} intervals)"),
            ("emulator + Deployment stand-in CPU (this process)",
             f"{self.emulator_cpu:.1f} s over {self.wall:.0f} s"),
            ("  of it while all progress",
             f"{self.emulator_progress_cpu / max(self.progress_seconds, 1e-9):.3f} core"),
            ("  its event-loop lag while all progress (p50 / p99)",
             f"{self.emulator_lag[0] * 1000:.1f} ms / {self.emulator_lag[1] * 1000:.1f} ms"),
            ("  its own time per write (p50 / p99)",
             f"{self.served[0] * 1000:.1f} ms / {self.served[1] * 1000:.1f} ms"),
            ("  its answers to those writes",
             ", ".join(f"{n} x {status}" for status, n in sorted(self.answers.items()))),
            ("  its full garbage collections (all answers wait)",
             f"{len(self.emulator_pauses)}, {sum(self.emulator_pauses) * 1000:.0f} ms in all,"
             f" longest {max(self.emulator_pauses, default=0.0) * 1000:.0f} ms"),
            ("  its peak memory (VmHWM)", f"{self.emulator_peak_mib:.0f} MiB"),
        ]  # fmt: skip
        if self.takeover is not None:
            rows.append(("replica SIGKILLed: its shards taken over after",
                         f"{self.takeover:.1f} s (Lease duration 15 s)"))  # fmt: skip
        print(
            f"command: .venv/bin/python -m benchmarks.operator_scale --canaries {self.count} "
            f"--interval {interval} --replicas {self.replicas}"
            + (f" --scrape-every {self.scrape_every:g}" if self.scrape_every else "")
        )
        for name, value in rows:
            print(f"{name:<52}{value}")
        print(f"operator warnings and errors logged: {sum(self.warnings.values())}")
        for words, times in self.warnings.most_common(8):
            print(f"  {times:>6} x {words} ...")


def seed(emulator: KubeEmulator, count: int, interval: str) -> None:
    install_crds(emulator)
    for n in range(count):
        emulator.create("apps/v1", "deployments", deployment(f"app-{n}"), namespace=NAMESPACE)
        analysis = {**canary()["spec"]["analysis"], "interval": interval}
        body = canary(f"app-{n}", analysis=analysis)
        emulator.create("coalmine.dev/v1beta1", "canaries", body, namespace=NAMESPACE)


def operator_command(
    kubeconfig: Path, metrics_server: str, metrics_port: int, shards: int, log_level: str
) -> list[str]:
    command = [
        sys.executable, "-m", "coalmine", "controller", "--kubeconfig", str(kubeconfig),
        "--namespace", NAMESPACE, "--min-interval", "1s", "--metrics-server", metrics_server,
        "--metrics-addr", f"127.0.0.1:{metrics_port}", "--health-addr", "127.0.0.1:0",
        "--log-level", log_level,
    ]  # fmt: skip
    return [*command, "--shards", str(shards)] if shards > 1 else command


def launch(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def serve_metrics_stand_in(port: int) -> None:
    """The Prometheus stand-in, in its own process (`--serve-metrics PORT`)."""
    stand_in = MetricsStandIn()

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v1/query", stand_in.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        # Prometheus (Go) listens with the system's somaxconn too; aiohttp's default of
        # 128 dropped the connections of a burst of queries (the provider opens one each)
        await web.TCPSite(runner, "127.0.0.1", port, backlog=LISTEN_BACKLOG).start()
        await asyncio.Event().wait()

    stand_in.queries = _Forgetful()
    asyncio.run(serve())


class _Forgetful(list[str]):
    """The stand-in keeps every query for tests; a benchmark must not."""

    def append(self, item: str) -> None:
        pass


EMULATOR_LAG = CollectorRegistry()
"""This process's (the emulator's) event-loop lag, measured as the operator measures its
own (`kube.runtime.loop_lag`) but every 20 ms: while it runs late, every answer to the
operators waits as long. With the process's CPU, it tells the emulator's queue from
the operators' own waits."""


def emulator_lag() -> dict[float, float]:
    """The cumulative buckets of `EMULATOR_LAG` now, by upper bound."""
    return {
        float(sample.labels["le"]): sample.value
        for family in EMULATOR_LAG.collect()
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def window_line(
    window: int, last: Scrape, now: Scrape, emulator: tuple[float, float, float]
) -> str:
    """One interval's ticks and their own time, and the emulator's loop lag (p50, p99)
    and CPU share (of one core) meanwhile: where in the run the tail is, and whose."""
    own, api = latency(last.own, now.own), latency(last.api, now.api)
    return (
        f"interval {window}: {now.ticks - last.ticks:.0f} ticks, own p50/p99"
        f" {own[0] * 1000:.1f}/{own[1] * 1000:.1f} ms, API wait p50/p99"
        f" {api[0] * 1000:.1f}/{api[1] * 1000:.1f} ms; emulator lag p50/p99"
        f" {emulator[0] * 1000:.1f}/{emulator[1] * 1000:.1f} ms, CPU {emulator[2] * 100:.0f} %"
    )


async def on_time(
    http: aiohttp.ClientSession, urls: list[str], seconds: float, until: asyncio.Event
) -> tuple[int, int, int]:
    """Every `seconds`, which canaries ticked since the last look: (windows, pairs, ticked)."""
    windows = pairs = ticked = 0
    last = await scrape(http, urls)
    lag, cpu, wall = emulator_lag(), time.process_time(), time.monotonic()
    while not until.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), seconds)
        if until.is_set():
            break
        now = await scrape(http, urls)
        windows += 1
        share = (time.process_time() - cpu) / max(time.monotonic() - wall, 1e-9)
        emulator = (*latency(lag, emulator_lag()), share)
        lag, cpu, wall = emulator_lag(), time.process_time(), time.monotonic()
        print(window_line(windows, last, now, emulator), file=sys.stderr, flush=True)
        pairs += len(now.counts)
        ticked += sum(1 for name, n in now.counts.items() if n > last.counts.get(name, 0.0))
        last = now
    return windows, pairs, ticked


async def drive(
    emulator: KubeEmulator,
    http: aiohttp.ClientSession,
    pids: list[int],
    urls: list[str],
    figures: Figures,
    seconds: float,
    profile: Path | None = None,
    profile_emulator: Path | None = None,
) -> None:
    started = time.monotonic()
    await wait_all(emulator, "Initialized", figures.count, 600 + 5 * seconds + figures.count / 5)
    figures.initialized = time.monotonic() - started
    await asyncio.sleep(seconds)  # the last initialization writes settle
    done = asyncio.Event()
    watching = asyncio.create_task(on_time(http, urls, seconds, done))

    mark, before = len(emulator.requests), await scrape(http, urls)
    await asyncio.sleep(seconds)
    after = await scrape(http, urls)
    figures.steady_ticks = after.ticks - before.ticks
    figures.steady_reads, figures.steady_writes = requests_since(emulator, mark)
    figures.steady_own_p99 = latency(before.own, after.own)[1]

    ship_all(emulator, figures.count)
    shipped, mark = time.monotonic(), len(emulator.requests)
    cpu_before = sum(process_figures(pid)[0] for pid in pids)
    machine_before = machine_cpu()
    lag_before, emulator_cpu_before = emulator_lag(), time.process_time()
    before = await scrape(http, urls)
    samplers = [
        py_spy(pid, output)
        for pid, output in ((pids[0], profile), (os.getpid(), profile_emulator))
        if output is not None
    ]
    await wait_all(emulator, "Succeeded", figures.count, deadline=600 + 20 * seconds)
    for sampler in samplers:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        await asyncio.to_thread(sampler.wait, 60)
    figures.progress_seconds = time.monotonic() - shipped
    figures.progress_cpu = sum(process_figures(pid)[0] for pid in pids) - cpu_before
    figures.emulator_progress_cpu = time.process_time() - emulator_cpu_before
    figures.emulator_lag = latency(lag_before, emulator_lag())
    machine_after = machine_cpu()
    figures.machine_busy = (machine_after[0] - machine_before[0]) / max(
        machine_after[1] - machine_before[1], 1e-9
    )
    after = await scrape(http, urls)
    figures.progress_ticks = after.ticks - before.ticks
    figures.progress_writes = requests_since(emulator, mark)[1]
    figures.served, figures.answers = served_writes(emulator, mark)
    figures.p50, figures.p99 = latency(before.buckets, after.buckets)
    figures.own_p50, figures.own_p99 = latency(before.own, after.own)
    figures.api_p50, figures.api_p99 = latency(before.api, after.api)
    figures.rest_p50, figures.rest_p99 = latency(before.own_less_api, after.own_less_api)
    figures.lag_p50, figures.lag_p99 = latency(before.lag, after.lag)
    figures.queued = latency(before.queued, after.queued)
    figures.answered = latency(before.answered, after.answered)
    figures.lag_over_100ms = share_over(before.lag, after.lag, 0.1)
    figures.full_gcs = after.full_gc.get(float("inf"), 0.0) - before.full_gc.get(float("inf"), 0.0)
    figures.full_gc_seconds = after.full_gc_seconds - before.full_gc_seconds
    figures.full_gc_p99 = latency(before.full_gc, after.full_gc)[1]
    figures.peak_mib = max(process_figures(pid)[1] for pid in pids)
    done.set()
    figures.windows, figures.pairs, figures.on_time = await watching


def py_spy(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` without stopping it, until SIGINT; collapsed stacks."""
    command = [
        str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
        "--rate", "50", "--nonblocking", "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def shard_holders(emulator: KubeEmulator) -> dict[str, tuple[str, str]]:
    """Each shard Lease's (holder, renewTime)."""
    return {
        lease["metadata"]["name"]: (
            lease["spec"].get("holderIdentity") or "",
            lease["spec"].get("renewTime") or "",
        )
        for lease in emulator.peek("coordination.k8s.io/v1", "leases", NAMESPACE)
        if "-shard-" in lease["metadata"]["name"]
    }


async def takeover(emulator: KubeEmulator, victim: subprocess.Popen[bytes], name: str) -> float:
    """SIGKILL one replica; seconds until no shard Lease is still its (each renewed since)."""
    victim.kill()
    killed = time.monotonic()
    before = shard_holders(emulator)
    while True:
        now = shard_holders(emulator)
        if all(
            holder != name and (holder, renewed) != before.get(lease)
            for lease, (holder, renewed) in now.items()
        ):
            return time.monotonic() - killed
        if time.monotonic() - killed > 120:
            raise SystemExit(f"shards not taken over after 120 s: {now}")
        await asyncio.sleep(0.1)


async def run(
    count: int,
    interval: str,
    replicas: int,
    workdir: Path,
    profile: Path | None = None,
    profile_emulator: Path | None = None,
    log_level: str = "warning",
    scrape_every: float = 0.0,
) -> Figures:
    from coalmine.api.common import parse_duration

    seconds = parse_duration(interval).total_seconds()
    figures = Figures(count, interval, replicas, scrape_every)
    began, cpu_began = time.monotonic(), time.process_time()
    gc.callbacks.append(timer := full_collections(figures.emulator_pauses))
    async with KubeEmulator(bookmark_interval=30) as emulator:
        seed(emulator, count, interval)
        without_full_collections()
        rollouts = RolloutController(emulator, period=0.2)
        rollouts.settle()
        kubeconfig = emulator.write_kubeconfig(workdir / "kubeconfig")
        stand_in_port = free_port()
        env = {**os.environ, "POD_NAMESPACE": NAMESPACE}
        stand_in = launch(
            [sys.executable, "-m", "benchmarks.operator_scale", "--serve-metrics",
             str(stand_in_port)],
            workdir / "prometheus.log", env,
        )  # fmt: skip
        ports = [free_port() for _ in range(replicas)]
        operators = [
            launch(
                operator_command(
                    kubeconfig, f"http://127.0.0.1:{stand_in_port}", port, replicas, log_level
                ),
                workdir / f"operator-{n}.log",
                {**env, "POD_NAME": f"replica-{n}"},
            )
            for n, port in enumerate(ports)
        ]
        urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
        playing = asyncio.create_task(rollouts.run())
        lagging = asyncio.create_task(LoopLag(EMULATOR_LAG, period=0.02).run())
        try:
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                pids = [p.pid for p in operators]
                scraping = (
                    asyncio.create_task(prometheus_scrapes(http, urls, scrape_every))
                    if scrape_every
                    else None
                )
                try:
                    await drive(
                        emulator, http, pids, urls, figures, seconds, profile, profile_emulator
                    )
                finally:
                    if scraping is not None:
                        scraping.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await scraping
            if replicas > 1:
                figures.takeover = await takeover(emulator, operators[0], "replica-0")
        finally:
            for process in (*operators, stand_in):
                process.terminate()
            for process in (*operators, stand_in):
                await asyncio.to_thread(process.wait, 60)
            for task in (playing, lagging):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    gc.callbacks.remove(timer)
    figures.emulator_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.emulator_cpu = time.process_time() - cpu_began
    figures.wall = time.monotonic() - began
    for n in range(replicas):
        figures.warnings.update(logged_problems(workdir / f"operator-{n}.log"))
    return figures


def without_full_collections() -> None:
    """No more full garbage collections in this process (the emulator's). kube-apiserver
    is written in Go, whose collector runs beside the program with pauses under a
    millisecond; the emulator's full collections stopped every answer for up to 2.9 s
    (27 of them, 34 s in all, at 5,000 canaries on three replicas), the whole tail of the
    operators' API wait. The seeded objects are frozen (never scanned again), and the
    young generations are still collected; cycles that reach the oldest stay until the
    end (the emulator's peak memory is printed)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000_000)


def full_collections(pauses: list[float]) -> Callable[[str, dict[str, int]], None]:
    """A `gc.callbacks` entry that appends each full collection's duration to `pauses`."""
    started = 0.0

    def timed(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info.get("generation") != 2:
            return
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started)

    return timed


def logged_problems(log: Path) -> Counter[str]:
    """WARNING and ERROR lines of an operator's log (plain format: `date time LEVEL
    logger [canary] message`), by logger and the message's first words, numbers out."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        words = line.split()
        if len(words) < 4 or words[2] not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        message = [w for w in words[4:] if not w.startswith("[")][:4]
        found[re.sub(r"\d+", "N", " ".join([words[3], *message]))] += 1
    return found


async def prometheus_scrapes(http: aiohttp.ClientSession, urls: list[str], every: float) -> None:
    """Every `every` seconds, each operator's /metrics as Prometheus asks for it."""
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    while True:
        await asyncio.sleep(every)
        for url in urls:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url, headers=headers) as answer:
                    await answer.read()


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--interval", default="60s", help="analysis.interval of every canary")
    parser.add_argument("--replicas", type=int, default=1, help="operators, sharded (--shards)")
    parser.add_argument("--profile", type=Path, help="py-spy samples while all progress")
    parser.add_argument(
        "--profile-emulator", type=Path, help="py-spy samples of the emulator's process, the same"
    )
    parser.add_argument(
        "--logs",
        type=Path,
        help="keep the operators' logs (operator-N.log) in this directory, made if missing",
    )
    parser.add_argument(
        "--log-level", default="warning", help="the operators' --log-level (info: shard changes)"
    )
    parser.add_argument(
        "--scrape-every",
        type=float,
        default=0.0,
        help="also scrape every operator's /metrics this often (seconds), as Prometheus does",
    )
    parser.add_argument("--serve-metrics", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_metrics:
        serve_metrics_stand_in(arguments.serve_metrics)
        return
    signal.signal(signal.SIGTERM, _stop)  # (the operators are stopped on the way out)
    with contextlib.ExitStack() as stack:
        if arguments.logs is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            workdir = arguments.logs
            workdir.mkdir(parents=True, exist_ok=True)
        figures = asyncio.run(
            run(
                arguments.canaries,
                arguments.interval,
                arguments.replicas,
                workdir,
                arguments.profile,
                arguments.profile_emulator,
                arguments.log_level,
                arguments.scrape_every,
            )
        )
    figures.print()


if __name__ == "__main__":
    main()
