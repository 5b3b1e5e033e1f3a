"""Ticks per second of the engine: 1,000 canaries advanced together with the in-memory ports.

Every canary goes through a whole life (initialization, a new revision, 20/40/60 %,
promotion) while the rounds advance all of them concurrently with asyncio.gather.
The figure is the engine's own cost (decision + tick plumbing + fakes), with no I/O.

    .venv/bin/python benchmarks/engine.py [--canaries 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from coalmine.api import Canary, Phase, parse_resource
from coalmine.engine import advance
from coalmine.engine.ports import Ports
from coalmine.testing import (
    FakeClock,
    FakeHooks,
    FakeMeasurer,
    FakeRouter,
    FakeWorkload,
    InMemoryStore,
    RecordingNotifier,
    RecordingRecorder,
)


def make_canary(index: int) -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": f"app-{index}", "namespace": "bench"},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": f"app-{index}"},
            "service": {"port": 80},
            "analysis": {
                "interval": "1m",
                "threshold": 3,
                "stepWeight": 20,
                "maxWeight": 60,
                "metrics": [
                    {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                    {"name": "request-duration", "thresholdRange": {"max": 500}},
                ],
                "webhooks": [{"name": "check", "type": "rollout", "url": "http://x/"}],
            },
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


async def run(count: int) -> None:
    clock = FakeClock()
    workload = FakeWorkload(clock)
    ports = Ports(
        workload=workload,
        router=FakeRouter(),
        measurer=FakeMeasurer({"request-success-rate": 99.9, "request-duration": 120.0}),
        hooks=FakeHooks(),
        notifier=RecordingNotifier(),
        recorder=RecordingRecorder(),
        store=InMemoryStore(),
    )
    canaries = [make_canary(i) for i in range(count)]
    for c in canaries:
        workload.deploy(c.spec.target_ref.name, "0.0.1")

    ticks = 0
    started = time.perf_counter()

    async def round_() -> None:
        nonlocal canaries, ticks
        clock.advance(60)
        outcomes = await asyncio.gather(*(advance(c, ports, clock.now()) for c in canaries))
        canaries = [o.canary for o in outcomes]
        ticks += len(outcomes)

    while any(c.status.phase != Phase.INITIALIZED for c in canaries):
        await round_()
    for c in canaries:
        workload.deploy(c.spec.target_ref.name, "0.0.2")
    while any(c.status.phase != Phase.SUCCEEDED for c in canaries):
        await round_()
    elapsed = time.perf_counter() - started
    print(f"canaries: {count}")
    print(f"ticks: {ticks} in {elapsed:.2f} s")
    print(f"ticks per second: {ticks / elapsed:,.0f}")
    print(f"mean tick: {elapsed / ticks * 1e6:.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.canaries))


if __name__ == "__main__":
    main()
