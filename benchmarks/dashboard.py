"""What the dashboard costs: first render, page weight, and live pages on `coalmine up`.

1. Overview with 200 canaries (each with 120 recorded ticks, as `coalmine up` stores
   them), served by the dashboard `coalmine up` runs (reading its store): the server's
   time to answer, and in Chromium (Playwright, /usr/bin/chromium) the time from
   navigation to first contentful paint. Target: under 1 s.
2. Page weight: the overview of 200 canaries and a canary page (HTML + CSS + JS, all the
   page loads). Target: under 300 KB.
3. A real `coalmine up` subprocess with a canary progressing every 2 s under load: the up
   process's CPU with no page open, then with 20 live pages (server-sent event streams)
   open; and how long after each tick its update reaches a page. Target: the 20 pages
   cost under 5 % of a core.

Run: .venv/bin/python -m benchmarks.dashboard [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from coalmine.demo.scenario import canary_manifest, workload_manifests
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.local.runtime import LocalRuntime, RuntimeSettings
from coalmine.web.app import serve
from coalmine.web.runtime import RuntimeSource

CANARIES = 200
TICKS = 120
PAGES = 20
HOST = {"Host": "go-demo-7.example"}


# 1 and 2: the overview of 200 canaries -------------------------------------------------


def fill(runtime: LocalRuntime) -> None:
    """200 canaries with a status and 120 ticks each, straight into the store."""
    store = runtime.store
    phases = ["Progressing", "Succeeded", "Failed", "Initialized"]
    for index in range(CANARIES):
        namespace, name = f"team-{index % 10}", f"service-{index}"
        manifest = {
            "apiVersion": "coalmine.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {"name": name},
                "analysis": {"interval": "10s", "threshold": 3, "stepWeight": 20, "maxWeight": 60},
            },
        }
        store.put("Canary", namespace, name, manifest, owner=None)
        phase = phases[index % len(phases)]
        status = {
            "phase": phase,
            "canaryWeight": 40 if phase == "Progressing" else 0,
            "failedChecks": index % 3,
            "lastAppliedSpec": f"{index:016x}",
            "lastTransitionTime": datetime.now(UTC).isoformat(),
        }
        store.write_status("Canary", namespace, name, status)
        for tick in range(TICKS):
            weight = min(60, 20 * (tick // 10)) if tick < 40 else 0
            store.add_tick(namespace, name, phase, weight, 0, f"{index:016x}")


async def overview_figures() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as state:
        runtime = LocalRuntime(RuntimeSettings(state_dir=Path(state), gateway_port=0))
        fill(runtime)
        dashboard = await serve(RuntimeSource(runtime), "benchmark-token", by="benchmark")
        try:
            base = dashboard.url.split("/?", 1)[0]
            headers = {"Authorization": "Bearer benchmark-token"}
            async with aiohttp.ClientSession(headers=headers) as http:
                server_times, sizes = [], {}
                for _ in range(10):
                    started = time.perf_counter()
                    async with http.get(base + "/") as answer:
                        body = await answer.read()
                    server_times.append(time.perf_counter() - started)
                sizes["overview"] = len(body)
                for asset in ("dashboard.css", "dashboard.js"):
                    async with http.get(f"{base}/static/{asset}") as answer:
                        sizes[asset] = len(await answer.read())
                async with http.get(f"{base}/canaries/team-0/service-0") as answer:
                    sizes["canary page"] = len(await answer.read())
            paint = await first_paint(dashboard.url)
        finally:
            await dashboard.close()
            runtime.store.close()
    assets = sizes["dashboard.css"] + sizes["dashboard.js"]
    return {
        "overview of 200 canaries, server answer (median of 10)": _ms(
            statistics.median(server_times)
        ),
        "overview of 200 canaries, first contentful paint in Chromium": paint,
        "overview page weight (HTML + CSS + JS)": _kb(sizes["overview"] + assets),
        "canary page weight, ticks only (HTML + CSS + JS)": _kb(sizes["canary page"] + assets),
    }


FIRST_PAINT = """new Promise(resolve => new PerformanceObserver((list, observer) => {
  const paint = list.getEntriesByName("first-contentful-paint")[0];
  if (paint) { observer.disconnect(); resolve(paint.startTime); }
}).observe({type: "paint", buffered: true}))"""


async def first_paint(url: str) -> str:
    if not shutil.which("/usr/bin/chromium"):
        return "not measured: /usr/bin/chromium missing (scripts/setup-system)"
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = await browser.new_page()
        await page.goto(url)  # sets the cookie; the next load is the measured one
        await page.reload(wait_until="load")
        paint = await page.evaluate(FIRST_PAINT)
        await browser.close()
    return _ms(paint / 1000)


# 3: live pages on a real coalmine up ---------------------------------------------------

LONG = """    interval: 2s
    threshold: 50
    stepWeight: 1
    maxWeight: 99
    metrics:
      - {name: request-success-rate, interval: 4s, thresholdRange: {min: 99}}
      - {name: request-duration, interval: 4s, thresholdRange: {max: 1000}}"""


def manifests(version: str) -> str:
    return workload_manifests({"VERSION": version}, replicas=1) + "---" + canary_manifest(LONG)


async def live_figures(seconds: float) -> dict[str, str]:
    state = Path(tempfile.mkdtemp(prefix="coalmine-bench-"))
    up = subprocess.Popen(  # noqa: ASYNC220 - a long-running child, read line by line
        [sys.executable, "-m", "coalmine", "up", "--state-dir", str(state),
         "--gateway", "127.0.0.1:0", "--min-interval", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        banner = await asyncio.to_thread(_banner, up)
        url = re.search(r"dashboard\s+(\S+)", banner)
        gateway = re.search(r"gateway\s+(\S+)", banner)
        assert url and gateway, banner
        await _cli(state, "apply", "-f", "-", text=manifests("0.0.1"))
        await _until_phase(state, "Initialized")
        plan = LoadPlan(
            urls=(gateway.group(1) + "/demo/hello",), rate=20, duration=3600, headers=HOST
        )
        load = LoadGenerator(plan)
        running = asyncio.create_task(load.run())
        await _cli(state, "apply", "-f", "-", text=manifests("0.0.2"))
        await _until_phase(state, "Progressing")
        idle = await _cpu_share(up.pid, seconds)
        base = url.group(1).split("/?", 1)[0]
        token = url.group(1).split("token=", 1)[1]
        latencies: list[float] = []
        streams = [
            asyncio.create_task(_follow(base, token, i, latencies, state)) for i in range(PAGES)
        ]
        await asyncio.sleep(2)
        watched = await _cpu_share(up.pid, seconds)
        for stream in streams:
            stream.cancel()
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
            http.get(f"{base}/canaries/go-demo-7/go-demo-7") as answer,
        ):
            page = len(await answer.read())
        load.stop()
        await running
    finally:
        up.terminate()
        await asyncio.to_thread(up.wait, 30)
        shutil.rmtree(state, ignore_errors=True)
    return {
        "coalmine up CPU, canary progressing, no page open": f"{idle:.1f} % of a core",
        f"coalmine up CPU, {PAGES} live canary pages open": f"{watched:.1f} % of a core",
        f"cost of the {PAGES} live pages": f"{watched - idle:.1f} % of a core",
        "tick to update on a page, median / max": _latency(latencies),
        "live canary page weight, mid-analysis (HTML, without CSS + JS)": _kb(page),
    }


def _latency(latencies: list[float]) -> str:
    if not latencies:
        return "no update arrived"
    median, worst = _ms(statistics.median(latencies)), _ms(max(latencies))
    return f"{median} / {worst} ({len(latencies)} updates)"


def _banner(up: subprocess.Popen[str]) -> str:
    lines = []
    assert up.stdout is not None
    for line in up.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C"):
            return "".join(lines)
    raise RuntimeError("coalmine up stopped:\n" + "".join(lines))


async def _cli(state: Path, *args: str, text: str = "") -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "coalmine", *args, "--state-dir", str(state)],
        input=text, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


async def _until_phase(state: Path, phase: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = json.loads(await _cli(state, "get", "canary", "-n", "go-demo-7", "-o", "json"))
        items = found.get("items", [found]) if isinstance(found, dict) else found
        if any((i.get("status") or {}).get("phase") == phase for i in items):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no {phase} within {within}s")


async def _follow(base: str, token: str, index: int, latencies: list[float], state: Path) -> None:
    """One live page: the SSE stream of the canary page; each update's delay after the tick."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/stream/canaries/go-demo-7/go-demo-7"
    import sqlite3

    db = sqlite3.connect(state / "state.db")
    first = True
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as stream:
        async for line in stream.content:
            if not line.startswith(b"data:") or index != 0:
                continue
            if first:  # the page's first message answers the connection, not a tick
                first = False
                continue
            row = db.execute("SELECT time FROM ticks ORDER BY id DESC LIMIT 1").fetchone()
            if row:
                tick = datetime.fromisoformat(row[0])
                latencies.append((datetime.now(UTC) - tick).total_seconds())


async def _cpu_share(pid: int, seconds: float) -> float:
    """Percent of one core the process used over `seconds`."""
    before, started = _cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (_cpu_seconds(pid) - before) / (time.monotonic() - started)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _kb(size: int) -> str:
    return f"{size / 1000:.0f} KB"


async def main(seconds: float) -> None:
    figures = await overview_figures()
    figures.update(await live_figures(seconds))
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="each CPU window")
    asyncio.run(main(parser.parse_args().seconds))
