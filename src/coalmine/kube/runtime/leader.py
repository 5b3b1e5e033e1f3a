"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Only the holder of the Lease `coalmine-controller` acts; the other replicas wait
(see docs/kubernetes.md for why a Lease rather than kopf's peering).

- Acquire: the Lease is free (no holder) or expired, then an optimistic update
  (resourceVersion) makes this replica the holder; of two replicas racing, one gets 409.
- Expired is judged on this replica's own clock: a Lease whose record has not changed
  for `leaseDurationSeconds` since this replica first saw it. Clocks of different
  machines are never compared.
- Renew every `retry_period`. A leader that could not renew for `renew_deadline`
  (shorter than the lease duration) stops acting before anyone else may start; the
  deadline runs from when the last successful renewal was sent, however late its
  answer came.
- Release on a clean shutdown: the holder is cleared, so a successor starts at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from coalmine.errors import CoalmineError, Conflict
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import LEASES
from coalmine.kube.runtime.settings import LeaderSettings

__all__ = ["LeaseElector"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class LeaseElector:
    def __init__(
        self,
        client: KubeClient,
        settings: LeaderSettings,
        *,
        identity: str,
        namespace: str,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _now,
    ) -> None:
        self.client = client
        self.settings = settings
        self.identity = identity
        self.namespace = namespace
        self.monotonic = monotonic
        self.wall = wall
        self._renewed_at: float | None = None
        self._observed: tuple[Any, float] | None = None
        """The Lease record last seen (holder, renewTime, version) and when it was first seen."""

    @property
    def leading(self) -> bool:
        """True while this replica renewed the Lease within the renew deadline."""
        if self._renewed_at is None:
            return False
        return self.monotonic() - self._renewed_at < self.settings.renew_deadline

    def leads(self, uid: str) -> bool:
        """May this replica act on the Canary `uid`? (All of them, while leading.)"""
        return self.leading

    def elsewhere(self, uid: str) -> bool:
        """Never: a leader that loses the Lease stops its loops as it steps down."""
        return False

    async def acquire(self) -> None:
        """Return once this replica holds the Lease (waits as long as another one does)."""
        while True:
            if await self._try() and self.leading:  # not an attempt that took too long
                break
            await asyncio.sleep(self.settings.retry_period)
        log.info("%s became the leader (lease %s/%s)", self.identity, self.namespace, self.name)

    async def keep(self) -> None:
        """Renew until renewing fails for the renew deadline; return then (leadership lost)."""
        while True:
            await asyncio.sleep(self.settings.retry_period)
            if await self._try():
                continue
            if not self.leading:
                log.error("%s lost the lease %s/%s", self.identity, self.namespace, self.name)
                self._renewed_at = None
                return

    async def release(self) -> None:
        """Give the Lease up (a clean shutdown), so that another replica takes over at once."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
            if lease is None or lease.get("spec", {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            await self.client.replace(LEASES, self.name, self.namespace, {**lease, "spec": spec})
        except CoalmineError as error:
            log.warning("could not release the lease %s/%s: %s", self.namespace, self.name, error)

    @property
    def name(self) -> str:
        return self.settings.lease_name

    async def _try(self) -> bool:
        """One attempt to acquire or renew; False when another replica holds it, or on a race.

        The renewal counts from when the attempt began, not from its answer: the API may
        write the Lease any time after that (others time its expiry from when they see it),
        and an answer that took long must not extend this replica's lead past it."""
        began = self.monotonic()
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except CoalmineError as error:
            log.warning("leader election: %s", error)
            return False
        return await self._write(lease, began)

    async def try_listed(self, lease: Obj | None) -> bool:
        """`_try` with the Lease as just listed (None: there is none), without reading it
        again: a round of shards lists all its Leases once, then writes concurrently. A
        copy gone stale meanwhile gets a 409 from the server, an attempt lost."""
        return await self._write(lease, self.monotonic())

    async def _write(self, lease: Obj | None, began: float) -> bool:
        try:
            if lease is None:
                await self.client.create(LEASES, self.namespace, self._new_lease())
            else:
                if not self._may_take(lease):
                    return False
                await self.client.replace(LEASES, self.name, self.namespace, self._taken(lease))
        except Conflict:
            return False
        except CoalmineError as error:
            log.warning("leader election: %s", error)
            return False
        self._renewed_at = began
        return True

    def _may_take(self, lease: Obj) -> bool:
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        now = self.monotonic()
        if self._observed is None or self._observed[0] != record:
            self._observed = (record, now)
        if holder in ("", self.identity):
            return True
        duration = float(spec.get("leaseDurationSeconds") or self.settings.lease_duration)
        return now - self._observed[1] > duration

    @property
    def _duration_seconds(self) -> int:
        """The Lease API counts whole seconds."""
        return max(1, round(self.settings.lease_duration))

    def _new_lease(self) -> Obj:
        moment = _micro_time(self.wall())
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self._duration_seconds,
                "acquireTime": moment,
                "renewTime": moment,
                "leaseTransitions": 0,
            },
        }

    def _taken(self, lease: Obj) -> Obj:
        spec = dict(lease.get("spec") or {})
        moment = _micro_time(self.wall())
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = moment
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self._duration_seconds,
            renewTime=moment,
        )
        return {**lease, "spec": spec}


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
