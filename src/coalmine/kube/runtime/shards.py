"""Canaries sharded across controller replicas: one Lease per shard, a fair share each.

Past what one replica can tick, `--shards N` splits the Canaries into N shards by a
consistent hash of their uid (`shard_of`: jump consistent hash, so a Canary keeps its
shard for ever at a given N, and changing N moves as few as possible). Each shard has a
Lease (`<lease-name>-shard-<i>`) held as `kube.runtime.leader.LeaseElector` holds the single
one: acquired when free or expired by an optimistic update, renewed every retry period,
and a holder that could not renew for the renew deadline stops acting on it before
anyone else may take it. A replica ticks (and releases, and repairs) only the Canaries
of the shards it holds.

Sharing: every replica also renews a member Lease (`<lease-name>-member-<identity>`),
from its first round, in which it takes no shard (so replicas started together count
each other before taking any), and counts the members alive (a member Lease whose
record changed within the lease duration, on this replica's own clock, as
`LeaseElector` judges expiry). Its fair share is ceil(N / members): below it, it
takes free or expired shards; above it (a replica joined), it gives the extra ones
up, cleanly: it stops acting on them, lets the loops of their Canaries finish the tick
in progress and end (`losing`), then clears the holder, so another replica takes them
at once and never ticks a Canary this one still ticks.
A replica that dies stops renewing both its member Lease and its shards; after a
lease duration both have expired, the survivors' fair share grows, and they take its
shards: the takeover takes one lease duration plus a retry period or two, and the
loops of the Canaries taken over start at once (`gained`). Nothing but the Kubernetes
API coordinates (no new infrastructure).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from coalmine.errors import CoalmineError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import LEASES
from coalmine.kube.runtime.leader import LeaseElector
from coalmine.kube.runtime.settings import LeaderSettings

__all__ = ["ShardLeadership", "shard_of"]

log = logging.getLogger(__name__)


def shard_of(uid: str, shards: int) -> int:
    """The shard of the Canary `uid`, in [0, shards): Lamping and Veach's jump
    consistent hash of the uid's SHA-256."""
    key = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big")
    bucket, jump = -1, 0
    while jump < shards:
        bucket = jump
        key = (key * 2862933555777941757 + 1) % 2**64
        jump = int((bucket + 1) * (2**31 / ((key >> 33) + 1)))
    return bucket


def _now() -> datetime:
    return datetime.now(UTC)


async def _nothing(grace: float) -> None:
    return None


class ShardLeadership:
    """The shards this replica holds; `leads(uid)` says whether it may act on a Canary."""

    def __init__(
        self,
        client: KubeClient,
        settings: LeaderSettings,
        *,
        shards: int,
        identity: str,
        namespace: str,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _now,
    ) -> None:
        if shards < 1:
            raise CoalmineError(f"--shards must be at least 1, got {shards}")
        self.client = client
        self.settings = settings
        self.identity = identity
        self.namespace = namespace
        self.monotonic = monotonic

        def elector(name: str) -> LeaseElector:
            named = replace(settings, lease_name=name)
            return LeaseElector(
                client, named, identity=identity, namespace=namespace,
                monotonic=monotonic, wall=wall,
            )  # fmt: skip

        self.shards = [elector(f"{settings.lease_name}-shard-{i}") for i in range(shards)]
        self.member_prefix = f"{settings.lease_name}-member-"
        self.member = elector(self.member_prefix + identity)
        self._members: dict[str, tuple[Any, float]] = {}
        """Each member Lease's record last seen, and when this replica first saw it."""
        self._alive_names: set[str] = {self.member.name}
        self._joined = False
        """The member Lease was taken once: this replica has been counted by the others."""
        self._took = False
        """This round took a shard."""
        self._giving_up: set[int] = set()
        """Shards being given up: held still, but acted on no more."""
        self._ours: set[int] = set()
        """Shards this replica took and has neither given up nor seen another take: held,
        or lapsed (a renewal late)."""
        self.losing: Callable[[float], Awaitable[None]] = _nothing
        """Awaited with a grace in seconds when this replica gives shards up, after it
        stopped acting on them and before it releases their Leases (the loops end)."""
        self.gained: Callable[[], None] = lambda: None
        """Called after a round in which this replica took a shard (it starts the loops
        of the Canaries now its)."""
        self.changed: Callable[[], None] = lambda: None
        """Called after a round that changed which shards are this replica's (`ours`),
        before `gained` (the read cache lists again, holding only those shards' objects)."""

    @property
    def leading(self) -> bool:
        """Does this replica hold any shard?"""
        return any(shard.leading for shard in self.shards)

    def leads(self, uid: str) -> bool:
        """May this replica act on the Canary `uid` now?"""
        index = shard_of(uid, len(self.shards))
        return index not in self._giving_up and self.shards[index].leading

    def elsewhere(self, uid: str) -> bool:
        """Is the Canary `uid` another replica's (see `kube.runtime.daemons.Leadership`)?"""
        index = shard_of(uid, len(self.shards))
        return index in self._giving_up or index not in self._ours

    def ours(self, uid: str) -> bool:
        """Is the Canary `uid` in a shard this replica took and still counts its own (held,
        lapsed, or being given up)? The read cache holds the objects of those only."""
        return shard_of(uid, len(self.shards)) in self._ours

    def held(self) -> list[int]:
        return [i for i, shard in enumerate(self.shards) if shard.leading]

    async def run(self) -> None:
        """Campaign, renew and rebalance every retry period, until cancelled."""
        while True:
            await self.step()
            await asyncio.sleep(self.settings.retry_period)

    async def step(self) -> None:
        """One round: renew what is held, then take or give shards toward the fair share.
        The first round only joins (the member Lease): replicas started together then see
        each other before any takes a share, where the first up took every shard, started
        the loops of every Canary, and gave two thirds of them up a round later (at 5,000
        Canaries the largest replica's peak memory, BENCHMARKS.md)."""
        before, self._took = set(self._ours), False
        try:
            await self._round()
        finally:
            if self._ours != before:
                self.changed()
        if self._took:  # (a shard new here, or one taken again after a lapse)
            self.gained()

    async def _round(self) -> None:
        """One list of the Leases, then every write of the round at once: renewals in
        sequence, a read and a write each, made a round as deep as the shards held, and
        under load the last renewal came after the renew deadline (BENCHMARKS.md)."""
        leases = await self._leases()
        await self._attempts([self.member, *(self.shards[i] for i in self.held())], leases)
        if not self._joined:
            self._joined = self.member.leading
            return
        fair = math.ceil(len(self.shards) / self._alive(leases))
        self._forget_taken(leases)
        await self._give_up(self.held()[fair:])  # a replica joined
        wanted = fair - len(self.held())
        free = [index for index in self._candidates() if self._free(index, leases)]
        taking = free[: max(0, wanted)]
        attempts = await self._attempts([self.shards[index] for index in taking], leases)
        for index, took in zip(taking, attempts, strict=True):
            if took:
                log.info("%s took shard %d", self.identity, index)
                self._ours.add(index)
                self._took = True

    async def _attempts(
        self, electors: list[LeaseElector], leases: dict[str, Obj] | None
    ) -> list[bool]:
        """Acquire or renew each at once: from the Leases listed, or reading each when the
        list failed. A failed renewal lapses at the renew deadline."""
        if leases is None:
            attempts = [elector._try() for elector in electors]
        else:
            attempts = [elector.try_listed(leases.get(elector.name)) for elector in electors]
        return list(await asyncio.gather(*attempts))

    def _free(self, index: int, leases: dict[str, Obj] | None) -> bool:
        """Free or expired, as listed (observed, for expiry); unknown when the list failed."""
        shard = self.shards[index]
        lease = leases.get(shard.name) if leases is not None else None
        return lease is None or shard._may_take(lease)

    async def _give_up(self, surplus: list[int]) -> None:
        """Stop acting on the `surplus` shards, let their loops end, release their Leases."""
        if not surplus:
            return
        self._giving_up.update(surplus)
        try:
            await self.losing(self.settings.retry_period)
            for index in surplus:
                log.info("%s gives shard %d up", self.identity, index)
                self._ours.discard(index)
                await self.shards[index].release()
        finally:
            self._giving_up.difference_update(surplus)

    def _forget_taken(self, leases: dict[str, Obj] | None) -> None:
        """Shards of ours that another replica holds now (it took them after a lapse)."""
        if leases is None:  # the API is down: nothing seen
            return
        for index in list(self._ours):
            shard = self.shards[index]
            holder = (leases.get(shard.name, {}).get("spec") or {}).get("holderIdentity")
            if not shard.leading and holder and holder != self.identity:
                self._ours.discard(index)

    async def release(self) -> None:
        """Give every shard and the membership up (a clean shutdown)."""
        self._ours.clear()
        for shard in self.shards:
            await shard.release()
        await self.member.release()

    async def _leases(self) -> dict[str, Obj] | None:
        """The Leases of the namespace by name; None when they cannot be listed."""
        try:
            found = await self.client.list(LEASES, self.namespace)
        except CoalmineError as error:
            log.warning("cannot list the leases in %s: %s", self.namespace, error)
            return None
        return {str(lease["metadata"].get("name")): lease for lease in found}

    def _alive(self, leases: dict[str, Obj] | None) -> int:
        """Member Leases renewed within their duration (this replica's counts, always)."""
        if leases is None:  # the API is down: keep the last count
            return max(1, len(self._alive_names))
        now, alive = self.monotonic(), {self.member.name}
        for name, lease in leases.items():
            if not name.startswith(self.member_prefix) or name == self.member.name:
                continue
            spec = lease.get("spec") or {}
            record = (spec.get("holderIdentity"), spec.get("renewTime"))
            seen = self._members.get(name)
            if seen is None or seen[0] != record:
                seen = self._members[name] = (record, now)
            duration = float(spec.get("leaseDurationSeconds") or self.settings.lease_duration)
            if spec.get("holderIdentity") and now - seen[1] <= duration:
                alive.add(name)
        self._alive_names = alive
        return len(alive)

    def _candidates(self) -> list[int]:
        """Shards not held here, starting at an offset that differs by replica, so that
        replicas starting together do not all race for shard 0."""
        count = len(self.shards)
        start = int.from_bytes(hashlib.sha256(self.identity.encode()).digest()[:4], "big")
        order = [(start + i) % count for i in range(count)]
        return [i for i in order if not self.shards[i].leading]
