"""How many requests per second one `coalmine.load` process offers to the demo app.

The demo app runs as its own process (`python -m coalmine.demo`, PORT=0); this
process generates open-loop load at rising rates for a few seconds each and
prints what it achieved. A rate counts as sustained when the generator sent at
least 95 % of it, dropped nothing at the in-flight cap, and every request got a
2xx answer. Both processes share this machine's cores: the figure is for a
generator and a demo app side by side, as in local mode.

    .venv/bin/python benchmarks/load_generator.py [seconds-per-step]
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from coalmine.load import LoadPlan, LoadResult, generate_load

RATES = (500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000)
KEPT_UP = 0.95


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by this process, or by process `pid`."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def demo_app() -> Iterator[tuple[str, int]]:
    env = {**os.environ, "PORT": "0", "VERSION": "bench"}
    process = subprocess.Popen(
        [sys.executable, "-m", "coalmine.demo"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the demo prints where it listens, then nothing
        if "listening on" not in line:
            raise SystemExit(f"the demo app did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip(), process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def sustained(result: LoadResult) -> bool:
    answered_ok = result.status_classes().get("2xx", 0) == result.sent
    return result.rate >= KEPT_UP * result.target_rate and not result.dropped and answered_ok


async def measure(url: str, app_pid: int, seconds: float) -> int:
    best = 0
    print(
        f"{'asked/s':>8} {'sent/s':>8} {'2xx':>8} {'errors':>7} {'dropped':>8} {'p99 ms':>8}"
        f" {'gen cpu':>8} {'app cpu':>8}"
    )
    for rate in RATES:
        plan = LoadPlan(urls=(f"{url}/demo/hello",), rate=rate, duration=seconds, timeout=5)
        gen_before, app_before = cpu_seconds(), cpu_seconds(app_pid)
        result = await generate_load(plan)
        gen_cpu = (cpu_seconds() - gen_before) / result.elapsed_seconds
        app_cpu = (cpu_seconds(app_pid) - app_before) / result.elapsed_seconds
        p99 = result.latency.p99 * 1000 if result.latency else float("nan")
        print(
            f"{rate:>8} {result.rate:>8.0f} {result.status_classes().get('2xx', 0):>8} "
            f"{result.failed:>7} {result.dropped:>8} {p99:>8.1f} {gen_cpu:>8.0%} {app_cpu:>8.0%}"
        )
        if not sustained(result):
            break
        best = rate
    return best


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    with demo_app() as (url, pid):
        best = asyncio.run(measure(url, pid, seconds))
    print(f"max sustained rate, one generator process against the demo app: {best}/s")
    print(
        f"(cores: {os.cpu_count()}; {seconds:g} s per step; sustained = sent >= 95 % of asked,"
        " no drops, all 2xx; cpu = share of one core)"
    )


if __name__ == "__main__":
    main()
