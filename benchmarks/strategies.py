"""How repeatable `coalmine demo --strategy all` is: the same comparison, run N times.

Run:  .venv/bin/python benchmarks/strategies.py [--runs 3] [--detection-delay 10] [--rps 50]

Each run starts a fresh LocalRuntime (Envoy, the demo app's replicas as processes) and
ships the faulty release 0.0.2 big-bang, rolling and canary under the same open-loop
load, exactly as the command does. Prints each run's table, then per strategy the
failed requests and how long the faulty release served (min / median / max over the
runs), and in how many runs the ordering canary < rolling < big-bang held.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from coalmine.demo.strategies import CompareSettings, Strategy, StrategyRun, problems, table
from coalmine.demo.strategies.manifests import BAD
from coalmine.demo.strategies.measure import compare
from coalmine.local.runtime import LocalRuntime, RuntimeSettings


async def one_run(settings: CompareSettings, verbose: bool) -> list[StrategyRun]:
    with tempfile.TemporaryDirectory(prefix="coalmine-strategies-") as state:
        runtime = LocalRuntime(
            RuntimeSettings(
                state_dir=Path(state), gateway_port=0, min_interval=timedelta(seconds=1)
            )
        )
        await runtime.start()
        try:
            return await compare(runtime, settings, print if verbose else lambda _: None)
        finally:
            await runtime.stop()


def spread(values: list[float], unit: str = "") -> str:
    return f"{min(values):g}{unit} / {statistics.median(values):g}{unit} / {max(values):g}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--detection-delay", type=float, default=10.0)
    parser.add_argument("--rps", type=float, default=50.0)
    parser.add_argument("--verbose", action="store_true", help="print each run's timeline")
    args = parser.parse_args()
    settings = CompareSettings(
        strategies=tuple(Strategy), detection_delay=args.detection_delay, rps=args.rps
    )
    results = []
    for index in range(args.runs):
        began = time.monotonic()
        runs = asyncio.run(one_run(settings, args.verbose))
        print(f"\nrun {index + 1} ({time.monotonic() - began:.0f}s):")
        print("\n".join(table(runs, BAD.version)[: 1 + len(runs)]))
        for problem in problems(runs):
            print(f"  problem: {problem}")
        results.append(runs)
    print(f"\nover {args.runs} runs (min / median / max):")
    for position, strategy in enumerate(Strategy):
        failed = [float(runs[position].exposure.failed) for runs in results]
        served = [
            round(w.seconds, 1) if (w := runs[position].exposure.bad_serving) else 0.0
            for runs in results
        ]
        print(
            f"  {strategy.value:<9} failed {spread(failed)}; "
            f"{BAD.version} served for {spread(served, 's')}"
        )
    held = sum(not problems(runs) for runs in results)
    print(f"ordering canary < rolling < big-bang held in {held} of {args.runs} runs")


if __name__ == "__main__":
    main()
