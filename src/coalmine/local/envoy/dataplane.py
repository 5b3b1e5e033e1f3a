"""The local data plane: a supervised Envoy whose routing follows `apply(DataPlane)`.

An apply never changes the running routes unless the new configuration is good:
1. the model checks it (constructing a `DataPlane` already did),
2. Envoy itself validates it (`envoy --mode validate` on a static rendering),
3. only then are the xDS files replaced, each by an atomic rename, in an order that never
   lets a request meet a route to a cluster Envoy does not know:
   clusters added (old and new together) -> routes -> listeners -> clusters removed.
   After every step we wait until Envoy reports that content's version (or rejects it).
If Envoy rejects a step anyway (say a listener's port is taken), the files are put back
to the last good configuration, which Envoy still runs, and apply raises.

The xDS files on disk are always a configuration Envoy accepted (or one step of a safe
transition), so an Envoy that the supervisor restarts reads them and comes back with
the same routes; `on_restart` then checks that it did. An Envoy that a previous
`coalmine up` left running is adopted (`start(adopt=True)`): it keeps serving what the
files say, and the next `apply` moves it on from there, writing only what changed.

Validation is by route shape, read from the model (`route_shape`): a configuration that
differs from one Envoy already accepted only in the weights of its weighted clusters (a
canary step) is not validated again (the model already checked the weights sum to 100),
so a weight change costs its rendering, one file rename and Envoy's acknowledgement.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import socket
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from coalmine.errors import AdapterError, EnvoyRejected, Unavailable
from coalmine.local.envoy.collector import Drained, StatsCollector
from coalmine.local.envoy.confirm import CDS, LDS, Confirmations, rds, version_of
from coalmine.local.envoy.envoy_check import envoy_validate
from coalmine.local.envoy.files import write_json_atomically
from coalmine.local.envoy.history import SampleHistory
from coalmine.local.envoy.model import GATEWAY, Cluster, DataPlane, Listener, Route
from coalmine.local.envoy.render import (
    Rendered,
    XdsPaths,
    bootstrap,
    render,
    validation_bootstrap,
    xds_file,
)
from coalmine.local.envoy.settings import EnvoySettings
from coalmine.local.envoy.supervisor import EnvoySupervisor

__all__ = ["EnvoyDataPlane"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
_EMPTY = Rendered({}, {}, {})
_ACCEPTED_KEPT = 64


class EnvoyDataPlane:
    """A real Envoy in front of local processes, configured from a `DataPlane`.

    Use as `async with EnvoyDataPlane(settings) as plane: await plane.apply(...)`, or call
    `start()` and `stop()`. `metrics` reads per-cluster request metrics from it.
    """

    def __init__(
        self,
        settings: EnvoySettings,
        *,
        stats_interval_s: float = 1.0,
        drained: Drained | None = None,
    ) -> None:
        self.settings = settings
        self._drained = drained
        """When earlier revisions' replicas behind each cluster were drained (the process
        layer knows): the collector's windows begin no earlier."""
        self._paths = XdsPaths(settings.directory / "xds")
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: EnvoySupervisor | None = None
        self._lock = asyncio.Lock()
        self._ports: dict[str, int] = {}
        self._good = DataPlane()
        self._good_rendered = _EMPTY
        self._on_disk = _EMPTY
        self._stats_interval_s = stats_interval_s
        self._metrics: StatsCollector | None = None
        self._accepted: OrderedDict[str, None] = OrderedDict()
        """Route shapes Envoy's validation accepted lately (by hash): not asked again."""
        self._rejections_seen: dict[tuple[int | None, str], int] = {}
        self.validations = 0
        """How many times `envoy --mode validate` ran (the rest were known shapes)."""

    async def __aenter__(self) -> EnvoyDataPlane:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- what the integrator reads -------------------------------------------------------

    @property
    def current(self) -> DataPlane:
        """The last configuration applied successfully (what Envoy routes by)."""
        return self._good

    @property
    def supervisor(self) -> EnvoySupervisor:
        if self._supervisor is None:
            raise Unavailable("the Envoy data plane has not been started")
        return self._supervisor

    @property
    def confirmations(self) -> Confirmations:
        timeout = self.settings.apply_timeout.total_seconds()
        return Confirmations(self.supervisor, timeout, self._rejections_seen)

    @property
    def metrics(self) -> StatsCollector:
        """Per-cluster request metrics, scraped every `stats_interval_s` while running."""
        if self._metrics is None:
            raise Unavailable("the Envoy data plane has not been started")
        return self._metrics

    @property
    def admin_url(self) -> str:
        """Envoy's admin API (a free loopback port, new after every restart)."""
        return self.supervisor.admin.url

    @property
    def gateway_address(self) -> tuple[str, int]:
        """(host, port) of the `gateway` listener."""
        return self.listener_address(GATEWAY)

    def listener_address(self, name: str) -> tuple[str, int]:
        """(host, port) a listener of the current configuration is bound to."""
        listener = self._good.listener(name)
        return listener.host, self._ports[name]

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def adopted(self) -> bool:
        """Whether `start` took over an Envoy a previous `coalmine up` left running."""
        return self._supervisor is not None and self._supervisor.adopted

    async def start(self, initial: DataPlane | None = None, *, adopt: bool = False) -> None:
        """Start Envoy with `initial` (default: no listeners, no clusters) and wait until it
        serves it. With `adopt`, first try to take over the Envoy a previous run left
        (then `initial` is ignored: it serves the files on disk until the next apply).
        Raises EnvoyRejected or Unavailable (and leaves no Envoy running)."""
        boot = self.settings.directory / "bootstrap.json"
        self._session = aiohttp.ClientSession()
        self._supervisor = EnvoySupervisor(self.settings, boot, self._session, self._after_restart)
        try:
            if not (adopt and await self._adopt()):
                await self._start_fresh(DataPlane() if initial is None else initial, boot)
        except BaseException:
            await self.stop()
            raise
        retention_s = 600.0
        self._metrics = StatsCollector(
            lambda: self.supervisor.admin,
            interval_s=self._stats_interval_s,
            retention_s=retention_s,
            history=SampleHistory(
                self.settings.directory / "stats-history.jsonl",
                keep=math.ceil(retention_s / self._stats_interval_s),
            ),
            identity=self.supervisor.identity,
            flush_s=self.settings.stats_flush_interval.total_seconds(),
            drained=self._drained,
        )
        self._metrics.start()

    async def _adopt(self) -> bool:
        try:
            on_disk = self._read_disk()
        except (OSError, ValueError, KeyError, TypeError):
            return False  # files we cannot read: start afresh (adopt() is not even tried)
        if not await self.supervisor.adopt():
            return False
        self._on_disk = self._good_rendered = on_disk
        for name, listener in on_disk.listeners.items():
            self._ports[name] = int(listener["address"]["socket_address"]["port_value"])
        return True

    async def _start_fresh(self, initial: DataPlane, boot: Path) -> None:
        rendered = await self._validated(initial)
        self._write_all(rendered)
        write_json_atomically(boot, bootstrap(self._paths, self.settings.stats_flush_interval))
        await self.supervisor.start()
        await self.confirmations.serving(rendered)
        self._good, self._good_rendered = initial, rendered

    def _read_disk(self) -> Rendered:
        """The configuration in the xDS files (what an adopted Envoy serves)."""

        def resources(path: Path) -> list[JSON]:
            found: list[JSON] = json.loads(path.read_text())["resources"]
            return found

        clusters = {c["name"]: c for c in resources(self._paths.clusters)}
        listeners = {x["name"]: x for x in resources(self._paths.listeners)}
        routes = {name: resources(self._paths.routes(name))[0] for name in listeners}
        return Rendered(clusters, listeners, routes)

    async def stop(self) -> None:
        """Stop metrics and Envoy (SIGTERM, then SIGKILL). Safe to call more than once."""
        if self._metrics is not None:
            await self._metrics.stop()
        if self._supervisor is not None:
            await self._supervisor.stop()
        await self._close_session()

    async def detach(self) -> None:
        """Stop supervising and leave Envoy serving the files on disk, for the next
        `coalmine up` to adopt."""
        if self._metrics is not None:
            await self._metrics.stop()
        if self._supervisor is not None:
            await self._supervisor.detach()
        await self._close_session()

    def kill(self) -> None:
        """SIGKILL Envoy now (a stop that overran its time)."""
        if self._supervisor is not None:
            self._supervisor.kill()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- applying ----------------------------------------------------------------------

    async def apply(self, plane: DataPlane) -> None:
        """Make Envoy route by `plane`, without dropping a request.

        Raises EnvoyRejected (Envoy refused it; nothing changed), or AdapterError /
        Unavailable (Envoy did not confirm in time; the last good files were restored).
        """
        if self._supervisor is None:
            raise Unavailable("start the Envoy data plane before applying a configuration")
        async with self._lock:
            if plane == self._good and self._on_disk == self._good_rendered:
                return
            rendered = await self._validated(plane)
            try:
                await self._transition(rendered)
            except BaseException:
                await self._restore()
                raise
            self._good, self._good_rendered = plane, rendered

    async def check(self, plane: DataPlane) -> None:
        """Raise EnvoyRejected when Envoy would refuse `plane`; changes nothing it serves.

        The local runtime asks before it stores an apply, so that nothing Envoy refuses
        is ever stored."""
        await self._validated(plane)

    async def _validated(self, plane: DataPlane) -> Rendered:
        for listener in plane.listeners:
            if listener.name not in self._ports or (
                listener.port and self._ports[listener.name] != listener.port
            ):
                self._ports[listener.name] = listener.port or _free_port(listener.host)
        rendered = render(plane, self._ports, self._paths)
        key = shape_key(plane, self._ports)
        if key in self._accepted:
            self._accepted.move_to_end(key)
        else:
            boot = validation_bootstrap(rendered, self.settings.stats_flush_interval)
            scratch = self.settings.directory / "validate"
            await envoy_validate(self.settings.envoy_binary(), boot, scratch)
            self.validations += 1
            self._accepted[key] = None
            while len(self._accepted) > _ACCEPTED_KEPT:
                self._accepted.popitem(last=False)
        return rendered

    async def _transition(self, target: Rendered) -> None:
        """Move Envoy from what is on disk to `target`, one acknowledged step at a time."""
        before = self._on_disk
        await self._put_clusters({**before.clusters, **target.clusters})
        for name in target.routes.keys() & before.listeners.keys():
            await self._put_routes(name, target.routes[name], wait=True)
        for name in target.routes.keys() - before.listeners.keys():
            await self._put_routes(name, target.routes[name], wait=False)
        await self._put_listeners(target.listeners)
        for name in target.routes.keys() - before.listeners.keys():
            await self.confirmations.version(rds(name), version_of([target.routes[name]]))
        await self._put_clusters(target.clusters)
        for name in before.routes.keys() - target.routes.keys():
            self._paths.routes(name).unlink(missing_ok=True)
        self._on_disk = Rendered(self._on_disk.clusters, self._on_disk.listeners, target.routes)

    async def _restore(self) -> None:
        """After a failed step: back to the last good configuration, which Envoy kept."""
        try:
            await self._transition(self._good_rendered)
        except Exception:
            log.exception("restoring the last good Envoy configuration failed")
            self._write_all(self._good_rendered)

    async def _put_clusters(self, clusters: Mapping[str, JSON]) -> None:
        if _same(clusters, self._on_disk.clusters):
            return
        document = xds_file(list(clusters.values()))
        if self._metrics is None:
            await self._put(self._paths.clusters, document, CDS)
        else:  # replaced clusters' counters restart: see StatsCollector.replacing
            on_disk = self._on_disk.clusters
            replaced = [n for n, c in clusters.items() if not _same(c, on_disk.get(n))]
            async with self._metrics.replacing(replaced):
                await self._put(self._paths.clusters, document, CDS)
        self._on_disk = Rendered(dict(clusters), self._on_disk.listeners, self._on_disk.routes)

    async def _put_listeners(self, listeners: Mapping[str, JSON]) -> None:
        if _same(listeners, self._on_disk.listeners):
            return
        document = xds_file(list(listeners.values()))
        await self._put(self._paths.listeners, document, LDS)
        self._on_disk = Rendered(self._on_disk.clusters, dict(listeners), self._on_disk.routes)
        await self.confirmations.listening(listeners)

    async def _put_routes(self, name: str, routes: JSON, *, wait: bool) -> None:
        if _same(routes, self._on_disk.routes.get(name)):
            return
        document = xds_file([routes])
        await self._put(self._paths.routes(name), document, rds(name) if wait else None)
        self._on_disk = Rendered(
            self._on_disk.clusters, self._on_disk.listeners, {**self._on_disk.routes, name: routes}
        )

    async def _put(self, path: Path, document: JSON, stat: str | None) -> None:
        """Replace one xDS file and, given its stat prefix, wait for Envoy to apply it."""
        rejected = await self.confirmations.rejections(stat) if stat else 0
        write_json_atomically(path, document, durable=False)
        if stat:
            await self.confirmations.version(stat, document["version_info"], rejected)

    def _write_all(self, rendered: Rendered) -> None:
        """Write every file at once: only while Envoy is not running (or to give up)."""
        write_json_atomically(self._paths.clusters, xds_file(list(rendered.clusters.values())))
        write_json_atomically(self._paths.listeners, xds_file(list(rendered.listeners.values())))
        for name, routes in rendered.routes.items():
            write_json_atomically(self._paths.routes(name), xds_file([routes]))
        self._on_disk = rendered

    async def _after_restart(self) -> None:
        """Envoy restarted from the files on disk: check it serves them again."""
        async with self._lock:
            try:
                await self.confirmations.serving(self._on_disk)
            except (EnvoyRejected, AdapterError, Unavailable) as error:
                log.error("Envoy restarted but does not serve the configuration: %s", error)
            else:
                log.warning(
                    "Envoy restarted (restart %d); routes restored", self.supervisor.restarts
                )


def route_shape(plane: DataPlane) -> tuple[tuple[Listener, ...], tuple[Cluster, ...]]:
    """`plane` with the weight of every destination set to 0: two configurations with the
    same shape differ at most in how traffic is split, which the model checks (weights
    sum to 100) and Envoy accepts whatever the split. Read from the model, so that a
    known shape costs no rendering of a validation bootstrap."""
    return (tuple(_weightless(listener) for listener in plane.listeners), plane.clusters)


def shape_key(plane: DataPlane, ports: Mapping[str, int]) -> str:
    """What Envoy's validation of `plane` depends on, hashed: its route shape and the
    ports its listeners are bound to (the xDS paths and the stats settings are the data
    plane's own, the same for every apply)."""
    bound = tuple(sorted((x.name, ports[x.name]) for x in plane.listeners))
    return hashlib.sha256(repr((route_shape(plane), bound)).encode()).hexdigest()


def _weightless(listener: Listener) -> Listener:
    def route(entry: Route) -> Route:
        return replace(entry, destinations=tuple(replace(d, weight=0) for d in entry.destinations))

    hosts = tuple(replace(h, routes=tuple(map(route, h.routes))) for h in listener.virtual_hosts)
    return replace(listener, virtual_hosts=hosts)


def _same(new: Any, old: Any) -> bool:
    return json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
