"""Shards: Canaries split by a consistent hash of their uid, one Lease per shard, shared
by the replicas alive; a dead replica's shards are taken over within a lease period."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from coalmine.kube.adapters.cache import WatchCache
from coalmine.kube.adapters.client import MISS, KubeClient, Obj
from coalmine.kube.adapters.resources import CANARIES, SERVICES, Kind
from coalmine.kube.runtime.daemons import CanaryDaemons, CanaryRef
from coalmine.kube.runtime.settings import LeaderSettings
from coalmine.kube.runtime.shards import ShardLeadership, shard_of
from tests.fixtures.daemons import FAST
from tests.fixtures.operator import NAMESPACE, canary, create
from tests.kube.runtime.test_daemons import daemons
from tests.kube.runtime.test_leader import Clock
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import eventually

LEASE = LeaderSettings.scaled(enabled=True, lease_duration=15.0, shards=3)


def uids(count: int) -> list[str]:
    return [str(uuid.UUID(int=n * 104729 + 7, version=4)) for n in range(count)]


def test_a_canary_keeps_its_shard_and_shards_are_even() -> None:
    spread = Counter(shard_of(uid, 3) for uid in uids(3000))

    assert [shard_of(uid, 3) for uid in uids(5)] == [shard_of(uid, 3) for uid in uids(5)]
    assert set(spread) == {0, 1, 2} and min(spread.values()) > 900


def test_adding_a_shard_moves_only_the_canaries_it_takes() -> None:
    moved = [uid for uid in uids(3000) if shard_of(uid, 3) != shard_of(uid, 4)]

    assert all(shard_of(uid, 4) == 3 for uid in moved), "moved only to the new shard"
    assert 600 < len(moved) < 900, "about a quarter"


class Replica:
    def __init__(self, name: str, client: KubeClient, clock: Clock) -> None:
        self.name = name
        self.shards = ShardLeadership(
            client, LEASE, shards=3, identity=name, namespace=NAMESPACE, monotonic=clock
        )
        self.loops: CanaryDaemons = daemons(client, self.shards)[0]
        self.shards.gained = self.loops.leadership_gained  # (as the controller wires it)
        self.shards.losing = self.loops.leadership_lost


async def rounds(replicas: list[Replica], clock: Clock, count: int = 3) -> None:
    """Every replica campaigns `count` times, a retry period apart."""
    for _ in range(count):
        for replica in replicas:
            await replica.shards.step()
        clock.now += LEASE.retry_period


def holders(replicas: list[Replica]) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {i: [] for i in range(3)}
    for replica in replicas:
        for index in replica.shards.held():
            held[index].append(replica.name)
    return held


async def tick_all(replicas: list[Replica], refs: list[CanaryRef]) -> Counter[str]:
    """Each replica's daemon of each Canary ticks once; which canaries were advanced."""
    advanced: Counter[str] = Counter()
    for replica in replicas:
        for ref in refs:
            before = replica.loops.ticks
            await replica.loops.tick(ref)
            if replica.loops.ticks > before:
                advanced[ref.name] += 1
    return advanced


async def test_replicas_share_the_shards_tick_each_canary_once_and_take_over_a_dead_ones(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    replicas = [Replica(name, kube_client, clock) for name in ("a", "b", "c")]
    refs = []
    for n in range(12):
        obj = create(kube_emulator, canary(f"app-{n}"))
        refs.append(CanaryRef.of(CANARIES, obj))

    await rounds(replicas, clock)

    assert all(len(names) == 1 for names in holders(replicas).values()), holders(replicas)
    assert sorted(len(r.shards.held()) for r in replicas) == [1, 1, 1], "one shard each"
    assert await tick_all(replicas, refs) == Counter({ref.name: 1 for ref in refs})

    dead, alive = replicas[2], replicas[:2]  # "c" is killed: it renews nothing any more
    lost = dead.shards.held()
    died_at = clock.now
    while any(dead.name in names or not names for names in holders(replicas).values()):
        await rounds(alive, clock, count=1)
        assert clock.now - died_at <= LEASE.lease_duration + 3 * LEASE.retry_period, holders(
            replicas
        )

    assert not dead.shards.leading, "its renew deadline passed: it would not act either"
    assert sorted(len(r.shards.held()) for r in alive) == [1, 2] and lost
    woken = {ref.name for r in alive for ref in refs if r.loops.watched(ref).loop.wakeup.is_set()}
    assert woken == {ref.name for ref in refs if shard_of(ref.uid, 3) in lost}, (
        "the Canaries taken over are woken at once (they slept to their slot), no others"
    )
    assert await tick_all(replicas, refs) == Counter({ref.name: 1 for ref in refs})


async def test_replicas_started_together_never_take_more_than_their_share(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    replicas = [Replica(name, kube_client, clock) for name in ("a", "b", "c")]
    most = 0
    for _ in range(4):
        await rounds(replicas, clock, count=1)
        most = max(most, *(len(r.shards.held()) for r in replicas))

    assert most == 1, "one replica took every shard first, to give two up a round later"
    assert sorted(len(r.shards.held()) for r in replicas) == [1, 1, 1]


async def test_a_replica_that_joins_gets_its_share(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    first = Replica("a", kube_client, clock)
    await rounds([first], clock)
    assert first.shards.held() == [0, 1, 2], "alone, it holds every shard"

    second = Replica("b", kube_client, clock)
    await rounds([first, second], clock)

    assert sorted(len(r.shards.held()) for r in (first, second)) == [1, 2]
    assert all(len(names) == 1 for names in holders([first, second]).values())


async def test_a_shard_given_up_is_released_only_once_its_loops_here_ended(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """A replica joins: the one that held every shard stops ticking the Canaries of the
    shards it gives up before their Leases go, so the newcomer never ticks one of them
    while it still does."""
    clock = Clock()
    first = Replica("a", kube_client, clock)
    first.loops.stop_grace = 1.0
    await rounds([first], clock)
    bodies = [create(kube_emulator, canary(f"app-{n}")) for n in range(12)]
    refs = [CanaryRef.of(CANARIES, body) for body in bodies]
    for ref, body in zip(refs, bodies, strict=True):
        first.loops.noticed(ref, None, body)  # kopf's listing
    assert first.loops.running() == {ref.uid for ref in refs}
    looping_at_release: dict[int, set[str]] = {}
    for index, shard in enumerate(first.shards.shards):
        looping_at_release[index] = set()

        async def release(index: int = index, release: Any = shard.release) -> None:
            of_shard = {ref.uid for ref in refs if shard_of(ref.uid, 3) == index}
            looping_at_release[index] |= first.loops.running() & of_shard
            await release()

        shard.release = release  # type: ignore[method-assign]

    second = Replica("b", kube_client, clock)
    for ref, body in zip(refs, bodies, strict=True):
        second.loops.noticed(ref, None, body)
    await rounds([first, second], clock)

    given_up = [i for i in range(3) if i not in first.shards.held()]
    assert given_up and all(looping_at_release[i] == set() for i in given_up)
    mine, theirs = first.loops.running(), second.loops.running()
    assert mine | theirs == {ref.uid for ref in refs} and not mine & theirs
    await first.loops.stop_all()
    await second.loops.stop_all()


async def test_a_late_renewal_pauses_the_loops_and_a_shard_taken_elsewhere_ends_them(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """A renewal that lands after the renew deadline gives no takeover to restart loops
    from: ending them at the lapse left Canaries without a loop (7 of 5,000, for minutes)."""
    clock = Clock()
    first = Replica("a", kube_client, clock)
    await rounds([first], clock)
    analysis = {**canary()["spec"]["analysis"], "interval": "30s"}
    ref = CanaryRef.of(CANARIES, create(kube_emulator, canary(analysis=analysis)))

    clock.now += LEASE.renew_deadline + 1  # no renewal for the renew deadline: a lapse
    assert not first.shards.leads(ref.uid)
    assert await first.loops.tick(ref) == 30.0, "it skips to its next slot, its loop lives"
    assert first.loops.ticks == 0

    second = Replica("b", kube_client, clock)  # sees the Leases expire, takes every shard
    await rounds([second], clock, count=round(2 * LEASE.lease_duration / LEASE.retry_period))
    await rounds([first], clock, count=1)  # "a" sees "b" hold them
    assert second.shards.held() == [0, 1, 2] and first.shards.held() == []
    assert await first.loops.tick(ref) is None, "another replica's now: the loop here ends"


async def test_a_round_writes_its_leases_at_once_so_slow_answers_lapse_none(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """Every request answered 0.2 s late, six shards held, a 2 s renew deadline: a round
    that read and wrote each Lease in turn was deeper than the deadline, and the shards
    renewed first lapsed before their next turn (a shard's Lease lapsed at the start of a
    5,000-Canary run, BENCHMARKS.md). A round is one list and one write deep now."""
    settings = LeaderSettings(
        enabled=True, lease_duration=3.0, renew_deadline=2.0, retry_period=0.4, shards=6
    )

    async def late(request: Awaitable[Obj]) -> Obj:
        answer = await request
        await asyncio.sleep(0.2)
        return answer

    kube_client.timing = late
    replica = ShardLeadership(kube_client, settings, shards=6, identity="a", namespace=NAMESPACE)
    running = asyncio.create_task(replica.run())
    try:
        await eventually(lambda: len(replica.held()) == 6, deadline=10)
        seen = []
        for _ in range(40):  # 4 s: each shard renewed several times
            await asyncio.sleep(0.1)
            seen.append(len(replica.held()))
    finally:
        running.cancel()
        kube_client.timing = None

    assert min(seen) == 6, f"shards held, every 0.1 s: {seen}"


def owned_service(owner: Obj | None, name: str) -> Obj:
    """A Service with a controller reference to `owner` (a Canary), or none."""
    meta: Obj = {"name": name, "namespace": NAMESPACE}
    if owner is not None:
        reference = {"apiVersion": owner["apiVersion"], "kind": "Canary", "controller": True}
        reference.update(name=owner["metadata"]["name"], uid=owner["metadata"]["uid"])
        meta["ownerReferences"] = [reference]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}  # fmt: skip


def holds(cache: WatchCache, kind: Kind, name: str) -> bool:
    found = cache.lookup(kind, name, NAMESPACE)
    assert found is not None, f"{name} exists: it is held, or read from the API (MISS)"
    return found is not MISS


async def test_each_replica_holds_only_its_shards_objects_and_a_takeover_lists_them(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """At 5,000 canaries on three replicas each held every object (393 MiB a replica);
    an object its shards do not own is read from the API, which a loop here never does."""
    canaries = [create(kube_emulator, canary(f"app-{n}")) for n in range(30)]
    for body in canaries:
        create(kube_emulator, owned_service(body, f"{body['metadata']['name']}-primary"))
    create(kube_emulator, owned_service(None, "users"))  # no Canary's: held everywhere
    clock = Clock()
    replicas = [Replica(name, kube_client, clock) for name in ("a", "b", "c")]
    caches = {r.name: WatchCache(kube_client, [CANARIES, SERVICES], [NAMESPACE], FAST)
              for r in replicas}  # fmt: skip
    for replica in replicas:
        cache = caches[replica.name]
        cache.keeps, replica.shards.changed = replica.shards.ours, cache.relist
        cache.start()

    def held_by(replica: Replica) -> set[str]:
        """The Canaries whose Canary and -primary Service the replica's cache holds."""
        cache, names = caches[replica.name], set()
        for body in canaries:
            name = body["metadata"]["name"]
            both = holds(cache, CANARIES, name), holds(cache, SERVICES, f"{name}-primary")
            assert both[0] == both[1], f"{replica.name} holds half of {name}'s objects"
            names |= {name} if both[0] else set()
        assert holds(cache, SERVICES, "users")
        return names

    def of_shards(replica: Replica) -> set[str]:
        held = replica.shards.held()
        return {
            b["metadata"]["name"] for b in canaries if shard_of(b["metadata"]["uid"], 3) in held
        }

    try:
        await rounds(replicas, clock)
        for replica in replicas:
            assert await caches[replica.name].relisted(10)
            assert held_by(replica) == of_shards(replica)
        everyone = {b["metadata"]["name"] for b in canaries}
        assert set().union(*(held_by(r) for r in replicas)) == everyone
        reads = kube_client.api_reads
        assert await kube_client.get(SERVICES, "app-0-primary", NAMESPACE) is not None
        assert kube_client.api_reads == reads + 1, "without a cache: from the API"

        dead, alive = replicas[2], replicas[:2]
        while any(dead.name in names or not names for names in holders(replicas).values()):
            await rounds(alive, clock, count=1)
        for replica in alive:
            assert await caches[replica.name].relisted(10)
        assert held_by(alive[0]) | held_by(alive[1]) == everyone
        assert [held_by(r) == of_shards(r) for r in alive] == [True, True]
    finally:
        for cache in caches.values():
            await cache.stop()
