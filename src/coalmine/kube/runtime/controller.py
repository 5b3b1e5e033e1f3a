"""`coalmine controller`: the operator's life, from connecting to the cluster to a clean exit.

    controller = Controller(settings)            # nothing happens yet
    await controller.start()                     # connect; serve /metrics, /healthz, /readyz
    await controller.run(stop)                   # lead (or wait to), reconcile until `stop`
    await controller.close()                     # release the Lease, close every pool

Every dependency comes in through the constructor (the settings, and optionally a
Measurer and a clock), so tests run the real controller in-process against the
emulator. With leader election on, this replica first waits to hold the Lease, and
only then starts kopf's watches and daemons. When it cannot renew the Lease (an API
outage longer than the renew deadline), it steps down without exiting: its daemons stop
acting at once (they ask `leading` before every tick), kopf is stopped, and it campaigns
again; the read cache keeps watching, so a replica that leads again starts warm.
(controller-runtime exits instead and lets Kubernetes restart the pod; a restart costs
the pod's start-up and a crash-loop back-off after a few outages.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from coalmine.engine.ports import Measurer
from coalmine.kube.adapters.cache import WatchCache
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.runtime.connection import close, connect, kopf_credentials
from coalmine.kube.runtime.daemons import AlwaysLeading, CanaryDaemons, Leadership
from coalmine.kube.runtime.handlers import FINALIZER, build_registry, kopf_settings
from coalmine.kube.runtime.health import Health, HealthServer
from coalmine.kube.runtime.kopf_events import filtering, ordinary_changes
from coalmine.kube.runtime.leader import LeaseElector
from coalmine.kube.runtime.repair import RoutingRepairs
from coalmine.kube.runtime.settings import ControllerSettings, default_lease_namespace
from coalmine.kube.runtime.shards import ShardLeadership
from coalmine.kube.runtime.wiring import Wiring, cached_kinds, canary_kinds, wire
from coalmine.telemetry import metrics_app

__all__ = ["Controller"]

log = logging.getLogger(__name__)

KOPF_EXIT_TIMEOUT = 30.0
"""Seconds kopf has to stop its watches and daemons on exit."""

RELIST_WAIT = 60.0
"""Seconds a loop waits for the read cache to have listed (at start, or the objects of a
shard just taken) before it ticks anyway, its reads then going to the API."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Controller:
    def __init__(
        self,
        settings: ControllerSettings,
        *,
        measurer: Measurer | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.measurer = measurer
        self.clock = clock
        self.registry = CollectorRegistry()
        self.health = Health(settings.health)
        self.client: KubeClient | None = None
        self.wiring: Wiring | None = None
        self.daemons: CanaryDaemons | None = None
        self.elector: LeaseElector | None = None
        self.shards: ShardLeadership | None = None
        self.cache: WatchCache | None = None
        self.repairs: RoutingRepairs | None = None
        self._health_server: HealthServer | None = None
        self._metrics: web.AppRunner | None = None
        self.metrics_port = 0
        self.health_port = 0
        self.step_downs = 0
        """Times this replica lost the Lease and stepped down (without exiting)."""

    async def start(self) -> None:
        """Serve the probes and /metrics, connect; Unavailable when the API is unreachable."""
        self._health_server = HealthServer(self.health, self.settings.serve.health)
        self._health_server.start()
        self.health_port = self._health_server.port
        self._metrics = web.AppRunner(metrics_app(self.registry), access_log=None)
        await self._metrics.setup()
        address = self.settings.serve.metrics
        site = web.TCPSite(self._metrics, address.host, address.port)
        await site.start()
        self.metrics_port = int(self._metrics.addresses[0][1])
        self.client = await connect(self.settings.cluster)
        scope = self.settings.scope
        self.cache = WatchCache(self.client, cached_kinds(scope), scope.namespaces)
        self.client.reads = self.cache  # (reads go to the API until their kind is listed)
        self.wiring = wire(self.client, self.settings, self.registry, measurer=self.measurer)
        self.wiring.events.start()  # (before kopf, which would take its tasks for its own)
        leadership = self._leadership(self.client)
        self.daemons = CanaryDaemons(
            self.client,
            self.wiring.ports,
            events=self.wiring.events,
            reverter=self.wiring.reverter,
            disowner=self.wiring.disowner,
            settings=self.settings.analysis,
            leadership=leadership,
            forget=self.wiring.recorder.forget,
            clock=self.clock,
            timer=self.wiring.timer,
            reads_ready=self._reads_ready,
        )
        self.repairs = RoutingRepairs(self.daemons.routing_changed)
        self.cache.on_modified = self.repairs.modified
        if self.shards is None:
            self.cache.start()
        else:  # the cache holds the shards' objects only: it lists once shards are taken
            self.cache.keeps = self.shards.ours
            self.shards.changed = self.cache.relist
            self.shards.gained = self.daemons.leadership_gained  # (its loops wait: reads_ready)
            self.shards.losing = self.daemons.leadership_lost

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile Canaries until `stop` is set, kopf ends (a signal), or leadership is lost."""
        heartbeat = asyncio.create_task(self.health.run(), name="coalmine heartbeat")
        try:
            if self.shards is not None:
                await self._operate_sharded(stop)
                return
            if self.elector is None:
                await self._operate(stop)
                return
            self.health.ready = True  # a stand-by replica is ready: it is healthy and waiting
            while await _first(self.elector.acquire(), stop.wait()):
                if not await self._operate(stop):
                    return
                self.step_downs += 1
                log.warning(
                    "%s lost the lease; stepped down, campaigning again", self.settings.identity
                )
        finally:
            heartbeat.cancel()

    async def close(self) -> None:
        if self.elector is not None:
            await self.elector.release()
        if self.shards is not None:
            await self.shards.release()
        if self.cache is not None:
            await self.cache.stop()
        if self.repairs is not None:
            await self.repairs.stop()
        if self.wiring is not None:
            await self.wiring.close()
        if self.client is not None:
            await close(self.client)
        if self._metrics is not None:
            await self._metrics.cleanup()
        if self._health_server is not None:
            self._health_server.stop()

    async def _reads_ready(self) -> None:
        assert self.cache is not None
        await self.cache.relisted(RELIST_WAIT)

    def _leadership(self, client: KubeClient) -> Leadership:
        leader = self.settings.leader
        if not leader.enabled:
            return AlwaysLeading()
        namespace = leader.lease_namespace or default_lease_namespace() or client.default_namespace
        if leader.shards > 1:
            self.shards = ShardLeadership(
                client,
                leader,
                shards=leader.shards,
                identity=self.settings.identity,
                namespace=namespace,
            )
            return self.shards
        self.elector = LeaseElector(
            client, leader, identity=self.settings.identity, namespace=namespace
        )
        return self.elector

    async def _operate(self, stop: asyncio.Event) -> bool:
        """Run kopf until `stop`, its own end, or the Lease is lost; True when lost."""
        assert self.daemons is not None
        daemons = self.daemons
        kopf_stop, kopf_ready = asyncio.Event(), asyncio.Event()
        daemons.accepting = True  # (stopped when this replica last stepped down)
        settings = kopf_settings()
        passes = ordinary_changes(
            known=daemons.known,
            elsewhere=daemons.leadership.elsewhere,
            settled=daemons.settled,
            finalizer=FINALIZER,
        )
        with filtering(settings, passes):
            operator = asyncio.create_task(
                self._kopf(settings, kopf_stop, kopf_ready), name="kopf operator"
            )
            readiness = asyncio.create_task(self._ready_when(kopf_ready))
            lost = asyncio.create_task(self.elector.keep()) if self.elector is not None else None
            try:
                await _until_first(operator, lost, stop)
            finally:
                readiness.cancel()
                kopf_stop.set()
                if lost is not None:
                    lost.cancel()
                loops = asyncio.create_task(daemons.stop_all())  # while kopf stops
                try:
                    await _finish(operator, self.health)
                finally:
                    await loops
        return lost is not None and lost.done() and not lost.cancelled() and not stop.is_set()

    async def _kopf(self, settings: Any, stop: asyncio.Event, ready: asyncio.Event) -> None:
        """kopf, on the Canaries of the watched namespaces, with coalmine's handlers."""
        import kopf

        assert self.daemons is not None and self.client is not None
        client = self.client
        namespaces = list(self.settings.scope.namespaces)
        await kopf.operator(
            registry=build_registry(
                self.daemons, canary_kinds(self.settings.scope), lambda: kopf_credentials(client)
            ),
            settings=settings,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            stop_flag=stop,
            ready_flag=ready,
        )

    async def _operate_sharded(self, stop: asyncio.Event) -> None:
        """With shards, kopf runs on every replica (its daemons act only on the Canaries of
        the shards held here) while the shards are campaigned for and shared out."""
        assert self.shards is not None
        campaign = asyncio.create_task(self.shards.run(), name="coalmine shards")
        try:
            await self._operate(stop)
        finally:
            campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await campaign

    async def _ready_when(self, kopf_ready: asyncio.Event) -> None:
        await kopf_ready.wait()
        self.health.ready = True
        log.info("coalmine controller %s is reconciling canaries", self.settings.identity)


async def _first(wanted: Any, other: Any) -> bool:
    """Await two coroutines until one ends; True if `wanted` ended first."""
    first, second = asyncio.ensure_future(wanted), asyncio.ensure_future(other)
    done, pending = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return first in done


async def _until_first(
    operator: asyncio.Task[None], lost: asyncio.Task[None] | None, stop: asyncio.Event
) -> None:
    stopping = asyncio.create_task(stop.wait())
    waited = {operator, stopping} | ({lost} if lost is not None else set())
    try:
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


async def _finish(operator: asyncio.Task[None], health: Health) -> None:
    """Wait for kopf to stop; a crash of kopf makes /healthz fail and is raised."""
    try:
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for returns normally when kopf
        # ends in the same loop iteration as a cancellation of this stop, which is then lost.
        async with asyncio.timeout(KOPF_EXIT_TIMEOUT):
            await asyncio.shield(operator)
    except TimeoutError:
        operator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await operator
        return
    except Exception as error:
        health.failure = f"the operator ended with an error: {error!r}"
        raise
