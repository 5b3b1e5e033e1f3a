"""Two `coalmine controller --shards 2` processes share the Canaries; one is killed, the
other takes its shard over, and no Canary is ever advanced by both."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from coalmine.kube.adapters.resources import LEASES
from tests.fixtures.operator import MetricsStandIn, canary, deployment
from tests.fixtures.world import NEW_IMAGE, World, eventually_async

NAMES = tuple(f"podinfo-{n}" for n in range(6))


def start(name: str, world: World, metrics: MetricsStandIn, logs: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "coalmine", "controller", "--shards", "2",
        "--kubeconfig", str(world.kubeconfig), "--namespace", world.namespace,
        "--min-interval", "1s", "--metrics-server", metrics.url,
        "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0",
    ]  # fmt: skip
    env = {**os.environ, "POD_NAME": name, "POD_NAMESPACE": world.namespace}
    env["COALMINE_LEASE_DURATION"] = "5"
    env.pop("KUBECONFIG", None)
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def shard_holders(world: World) -> dict[str, str]:
    holders = {}
    for shard in ("coalmine-controller-shard-0", "coalmine-controller-shard-1"):
        lease = await world.get(LEASES, shard)
        holders[shard] = str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
    return holders


async def reporters(world: World) -> dict[str, set[str]]:
    """Which replicas wrote Events about each Canary."""
    found: dict[str, set[str]] = defaultdict(set)
    for event in await world.events():
        if event.get("reportingInstance"):
            found[event["involvedObject"]["name"]].add(event["reportingInstance"])
    return found


@pytest.mark.slow
async def test_two_sharded_replicas_share_the_canaries_and_one_takes_over(
    world: World, metrics_stand_in: MetricsStandIn, tmp_path: Path
) -> None:
    for name in NAMES:
        await world.create(deployment(name))
        await world.create(canary(name))
    a = start("replica-a", world, metrics_stand_in, tmp_path)
    b = start("replica-b", world, metrics_stand_in, tmp_path)
    try:
        for name in NAMES:
            await world.wait_phase("Initialized", name)

        async def one_each() -> bool:
            holders = sorted((await shard_holders(world)).values())
            return holders == ["replica-a", "replica-b"]

        await eventually_async(one_each, deadline=30)  # a took both first, then shared
        for name in NAMES:
            await world.ship(name, NEW_IMAGE)
            await world.wait_phase("Progressing", name)
        a.kill()  # a crash: its shard Lease is not released
        await asyncio.to_thread(a.wait, 10)

        async def b_holds_all() -> bool:
            return set((await shard_holders(world)).values()) == {"replica-b"}

        await eventually_async(b_holds_all, deadline=30)
        for name in NAMES:
            await world.wait_phase("Succeeded", name)
            await world.event_starting(f"Promotion completed! Scaling down {name}.")
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 30)

    events = await world.events()
    for name in NAMES:  # had both acted on one canary, a step would show twice
        key = f"{name}.{world.namespace}"
        steps = [f"Starting canary analysis for {key}, canary weight 20"]
        for message in steps + [f"Advance {key} canary weight {w}" for w in (40, 60)]:
            written = [e for e in events if e["message"] == message]
            assert [e["count"] for e in written] in ([1], []), (message, written)
    acted = await reporters(world)
    assert {"replica-a", "replica-b"} <= set().union(*acted.values()), "both did some work"
