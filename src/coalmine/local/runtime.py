"""`coalmine up`: the local control plane, composed.

    apply/delete (API) --> store (SQLite) --> sync_workloads --> processes (replicas)
                                      \\--> sync_dataplane --> Envoy (routes, clusters)
    canary tasks --> engine.advance --> LocalWorkload / EnvoyRouter --> store --> syncs

Everything desired is in the store; the two syncs make the processes and Envoy match it
(serialised, idempotent), and run again whenever the store or the ready replicas change.

The data plane outlives the control plane. `stop()` (Ctrl-C, SIGTERM) stops everything,
bounded in time; `stop(keep_data_plane=True)` (`up --keep-running`) and a crash or
kill -9 leave Envoy and the replicas serving. The next `start` adopts them (each checked
by pid, start time and an environment marker), routes to them once they pass their
readiness probe again, and resumes every canary from its stored status. Only what it
cannot adopt is started afresh; a fresh Envoy gets its listener only together with
its routes, so it never answers 404 for a route it has not loaded yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry

from coalmine.api.canary import Canary
from coalmine.api.configs import ConfigMap, Secret, decoded
from coalmine.api.interval_floor import MIN_INTERVAL
from coalmine.api.parsing import DEFAULT_LIMITS, ParseLimits
from coalmine.api.workloads import Deployment
from coalmine.engine.ports import Hooks, Notifier, Ports, Recorder
from coalmine.engine.requests import Action
from coalmine.errors import NotFound
from coalmine.history.local import store_records
from coalmine.hooks import EventWebhookNotifier, HttpHooks
from coalmine.load import generate_load
from coalmine.loadtester import TaskSettings
from coalmine.loadtester import create_app as create_loadtester
from coalmine.local.admission import (
    Key,
    objects_after,
    quarantine_unservable,
    routing_objects,
)
from coalmine.local.api import ApiEndpoint, bound_port, new_token, serve
from coalmine.local.canaries import CanaryRunner, StoreEvents, StoreRecorder, StoreStatus
from coalmine.local.changes import LocalChanges
from coalmine.local.configs import with_config_revision
from coalmine.local.envoy import DataPlane, EnvoyDataPlane, EnvoySettings
from coalmine.local.files import make_private_dir
from coalmine.local.lock import StateLock
from coalmine.local.names import Resolver
from coalmine.local.objects import Applied, ObjectBook, label_of
from coalmine.local.observe import EnvoyObserver
from coalmine.local.processes import LocalDeployments, ProcessSettings
from coalmine.local.processes.handle import reap_exited
from coalmine.local.prometheus import SupervisedPrometheus
from coalmine.local.release import release_canary
from coalmine.local.sampling import BaselineSampler
from coalmine.local.store import EventRecord, QuarantinedObject, Store, StoredObject
from coalmine.local.stored_models import StoredModels
from coalmine.local.translate import Objects, Selection, selections, translate
from coalmine.local.wiring import (
    DEFAULT_PROVIDER,
    ROUTERS,
    FencedMeasurer,
    Recorders,
    ResolvingHooks,
    StoreAlertProviders,
    StoreTemplates,
    resolving_load,
)
from coalmine.local.workload import LocalWorkload, desired_replicas
from coalmine.metrics.credentials import EnvCredentialSource
from coalmine.metrics.measurer import MeasurerSettings, MetricMeasurer
from coalmine.metrics.observer import PrometheusObserver
from coalmine.metrics.prometheus_server import ScrapeTarget, free_port
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.envoy.measurer import EnvoyMeasurer
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.metrics.providers.registry import PROVIDERS
from coalmine.metrics.providers.sessions import HttpSessions
from coalmine.metrics.side_by_side import side_by_side
from coalmine.notify import AlertingNotifier, LocalSecrets
from coalmine.routers.local_store import LocalRouting, release_objects
from coalmine.telemetry import PrometheusRecorder

__all__ = ["LocalRuntime", "RuntimeSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeSettings:
    state_dir: Path = Path(".coalmine")
    """Where the store, logs, Envoy's files and the API address live."""
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    """The user-facing gateway; 0 picks a free port (tests, the demo)."""
    min_interval: timedelta = MIN_INTERVAL
    """The floor for analysis.interval. Envoy's stats are read every second, so local
    canaries may tick faster than Flagger's 10 s floor when asked to."""
    process_settings: ProcessSettings | None = None
    """Probe and stop timings of local replicas; None uses each manifest's own."""
    prometheus: bool = False
    """Start a Prometheus (found on PATH) scraping Envoy and coalmine every second, and
    measure every metric through it (built-ins as PromQL, MetricTemplates, inline queries)."""
    restore_timeout_seconds: float = 30.0
    """At start, how long to wait for the stored Deployments' replicas to be ready before
    routing to them and resuming canaries."""
    parse_limits: ParseLimits = DEFAULT_LIMITS
    """Size, alias and depth limits on what the API accepts."""
    loadtester_commands: bool = False
    """Let the built-in load tester run cmd and bash tasks (with the API's token)."""
    loadtester_port: int = 0
    """Port of the built-in load tester on 127.0.0.1 (0: a free one). Canaries reach it
    as `loadtester.<any>` or `flagger-loadtester.<any>`, as in a cluster."""
    stop_timeout_seconds: float = 30.0
    """How long `stop()` may take; then every child left is SIGKILLed."""


class LocalRuntime:
    """Owns the store, the processes, Envoy, the canary tasks and the API server."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        state = settings.state_dir
        make_private_dir(state)
        self.lock = StateLock(state)
        self.token = new_token()
        """The API's token; the built-in load tester requires it too."""
        self.store = Store(state / "state.db")
        self.models = StoredModels(self.store)
        """The routing rows as models: what the data plane is translated from."""
        self.book = ObjectBook(self.store, min_interval=settings.min_interval, models=self.models)
        self.processes = LocalDeployments(
            state,
            settings=settings.process_settings or ProcessSettings(),
            confirm_unrouted=True,
            configs=self._config_content,
        )
        self.envoy = EnvoyDataPlane(EnvoySettings(state_dir=state), drained=self._drained)
        self._selections: dict[str, Selection] = {}
        """The replicas behind each Envoy cluster, as of the last data-plane sync."""
        self.started = datetime.now(UTC)
        self.warnings: list[str] = []
        self.registry = CollectorRegistry()
        self.resolver = Resolver(self._gateway, self._loadtester_address, self._is_served)
        self.hooks = HttpHooks(token_for=self._loadtester_token)
        self._sync_lock = asyncio.Lock()
        self._apply_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._servers: list[web.AppRunner] = []
        self._killed: set[int] = set()
        """Replicas SIGKILLed by `kill`, reaped by `_after_kill`."""
        self._loadtester: tuple[str, int] | None = None
        self.api: ApiEndpoint | None = None
        self.prometheus: SupervisedPrometheus | None = None
        self._prometheus_port = free_port() if settings.prometheus else 0
        self.metric_sessions = HttpSessions()
        """The Prometheus queries' HTTP sessions (with --prometheus), closed by `stop`."""
        self.measurer: EnvoyMeasurer | FencedMeasurer = self._measurer()
        self.sampler = BaselineSampler(
            self.store, self.measurer, lambda cluster: self.envoy.metrics.served(cluster)
        )
        self.runner = CanaryRunner(self._ports(), self._load_canary)
        self.changes = LocalChanges(self.book, self.store, self.apply, self.runner.wake)

    # Life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Take the state directory's lock (CoalmineError if another `up` holds it), adopt
        or start the data plane, and resume every canary."""
        self.lock.acquire()
        killed = await self.processes.start()
        if killed:
            log.info("stopped %d processes left by a previous coalmine up", len(killed))
        # Adopt the Envoy a previous run left serving; a fresh one starts without the
        # gateway listener, which arrives with its routes once the replicas are ready.
        await self.envoy.start(DataPlane(), adopt=True)
        if self.envoy.adopted:
            log.info("adopted the running Envoy; it kept serving meanwhile")
        await self._quarantine()
        await self._start_loadtester()
        adoptable = self.processes.orphans
        await self.sync_workloads()
        left = await self.processes.kill_unclaimed()
        if adoptable:
            log.info("adopted %d running replicas", adoptable - len(left))
        await self._until_restored()
        await self.sync()
        self._tasks.append(asyncio.create_task(self._follow_endpoints(), name="endpoints"))
        api, self.api = await serve(
            self,
            self.settings.state_dir,
            registry=self.registry,
            token=self.token,
            limits=self.settings.parse_limits,
        )
        self._servers.append(api)
        if self.settings.prometheus:
            await self._start_prometheus()

    async def _until_restored(self) -> None:
        """After a restart, wait (boundedly) for the stored Deployments' replicas before
        routing traffic to them and resuming canaries: a canary must not be judged on the
        errors of coalmine's own restart."""
        deadline = asyncio.get_running_loop().time() + self.settings.restore_timeout_seconds
        while asyncio.get_running_loop().time() < deadline:
            states = [
                self.processes.workload_state(o.namespace, o.name)
                for o in self.store.objects("Deployment")
            ]
            if all(s is None or s.available >= s.replicas for s in states):
                return
            await asyncio.sleep(0.1)
        log.warning(
            "some replicas were not ready %gs after start", self.settings.restore_timeout_seconds
        )

    async def stop(self, *, keep_data_plane: bool = False) -> None:
        """Stop the canaries, the API and every child, within `stop_timeout_seconds`:
        what is still running then gets SIGKILL. With `keep_data_plane`, Envoy and the
        replicas are left serving (recorded) for the next `start` to adopt."""
        if not self.lock.held:
            self.store.close()  # never started (or another up holds the directory)
            return
        try:
            async with asyncio.timeout(self.settings.stop_timeout_seconds):
                await self._stop_control_plane()
                await self._stop_children(keep_data_plane)
        except TimeoutError:
            log.error(
                "stopping took more than %gs; killing what is left",
                self.settings.stop_timeout_seconds,
            )
            self.kill()
            await self._after_kill()
        finally:
            with contextlib.suppress(FileNotFoundError):
                (self.settings.state_dir / "api.json").unlink()
            self.store.close()
            self.lock.release()

    async def _stop_control_plane(self) -> None:
        await self.runner.stop()
        await self.sampler.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_servers()
        await self.hooks.close()
        await self.metric_sessions.close()

    async def _close_listeners(self) -> None:
        """Stop accepting on the API's and the load tester's ports, at once (aiohttp
        closes a site's listening socket before its first await)."""
        for server in self._servers:
            for site in list(server.sites):
                await site.stop()

    async def _close_servers(self) -> None:
        """The listeners closed, then each server's open connections finished."""
        await self._close_listeners()
        while self._servers:
            await self._servers.pop().cleanup()

    async def _stop_children(self, keep_data_plane: bool) -> None:
        if keep_data_plane:
            await self.processes.detach()
            await self.envoy.detach()
        else:
            await self.processes.stop()
            await self.envoy.stop()
        if self.prometheus is not None:
            await self.prometheus.stop()

    async def _after_kill(self) -> None:
        """Close the listeners, reap the killed children and close connections (bounded:
        they are dead)."""
        with contextlib.suppress(Exception, TimeoutError):
            async with asyncio.timeout(5.0):
                # a deadline that cut the control plane's stop short left them listening
                await self._close_listeners()
                await self._stop_children(keep_data_plane=False)
                await self.hooks.close()
                await self.metric_sessions.close()
                for _ in range(100):  # replicas whose stop the deadline cut short: dead, unreaped
                    if not reap_exited(self._killed):
                        break
                    await asyncio.sleep(0.05)
                await self._close_servers()

    def kill(self) -> None:
        """SIGKILL every child now: replicas (their process groups), Envoy, Prometheus."""
        for pid in self.processes.pids():
            self._killed.add(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.envoy.kill()
        if self.prometheus is not None:
            self.prometheus.kill()

    @property
    def gateway_url(self) -> str:
        host, port = self.envoy.gateway_address
        return f"http://{host}:{port}"

    # Keeping the world in line with the store -----------------------------------------

    async def sync(self) -> None:
        """Processes, Envoy and canary tasks to match the store."""
        await self.sync_workloads()
        await self.sync_dataplane()
        self.runner.sync({(c.namespace, c.name) for c in self.book.canaries()})

    async def sync_workloads(self) -> None:
        wanted = {}
        targets = {(c.namespace, c.spec.target_ref.name) for c in self.book.canaries()}
        for stored in self.store.objects("Deployment"):
            manifest = dict(stored.manifest)
            if stored.owner is not None or (stored.namespace, stored.name) in targets:
                manifest = with_config_revision(self.store, manifest)
            manifest["spec"] = {
                **manifest["spec"],
                "replicas": desired_replicas(stored.manifest, stored.status),
            }
            wanted[(stored.namespace, stored.name)] = Deployment.model_validate(manifest)
        running = {(s.namespace, s.name) for s in self.processes.statuses()}
        for namespace, name in running - wanted.keys():
            await self.processes.delete(namespace, name)
        for deployment in wanted.values():
            await self.processes.apply(deployment)

    async def sync_dataplane(self) -> None:
        """Push the stored routing objects and the ready replicas to Envoy; return once served."""
        async with self._sync_lock:
            version = self.processes.endpoints_version
            objects = self._routing_objects()
            self._selections = selections(objects)
            translation = translate(objects, self._endpoints, *self._gateway())
            for warning in translation.warnings:
                if warning not in self.warnings:
                    log.warning("%s", warning)
            self.warnings = translation.warnings
            if translation.plane != self.envoy.current:
                await self.envoy.apply(translation.plane)
            self.processes.routed(version)  # stopping replicas wait for this

    async def _follow_endpoints(self) -> None:
        version = self.processes.endpoints_version
        while True:
            version = await self.processes.wait_endpoints_changed(version, max_wait=5.0)
            try:
                await self.sync_dataplane()
            except Exception:  # keep following; the next change or tick retries
                log.exception("updating Envoy after an endpoint change failed")

    def _gateway(self) -> tuple[str, int]:
        if self.envoy.current.listeners:
            return self.envoy.gateway_address
        return self.settings.gateway_host, self.settings.gateway_port

    def _routing_objects(self) -> Objects:
        return routing_objects(self.models)

    def _drained(self, cluster: str) -> float | None:
        """When the replicas of earlier revisions behind `cluster` were drained (see
        StatsCollector): a check's window of it begins no earlier."""
        selection = self._selections.get(cluster)
        if selection is None:
            return None
        namespace, selector, _ = selection
        return self.processes.drained(namespace, selector)

    def _endpoints(
        self, namespace: str, selector: dict[str, str], target: int | str
    ) -> list[tuple[str, int]]:
        found = []
        for endpoint in self.processes.endpoints(namespace, selector):
            port = endpoint.host_port(target)
            if port is not None:
                found.append((endpoint.host, port))
        return sorted(found)

    # The canaries' ports ---------------------------------------------------------------

    def _ports(self) -> Ports:
        return Ports(
            workload=LocalWorkload(self.store, self.processes, self.sync_workloads),
            router=ROUTERS.dispatch(
                LocalRouting(self.store, self.sync_dataplane, self.models),
                default=DEFAULT_PROVIDER,
            ),
            measurer=self.measurer,
            hooks=self._hooks(),
            notifier=self._notifier(),
            recorder=self._recorder(),
            store=StoreStatus(self.store),
            observer=self._observer(),
        )

    def _observer(self) -> EnvoyObserver | PrometheusObserver:
        """The judge's per-side counts, from the same source as the measurements."""
        if not self.settings.prometheus:
            return EnvoyObserver(lambda: self.envoy.metrics)
        server = ProviderSettings(f"http://127.0.0.1:{self._prometheus_port}")
        provider = PrometheusProvider(server, sessions=self.metric_sessions)
        return PrometheusObserver(provider, mesh="envoy")

    def _measurer(self) -> EnvoyMeasurer | FencedMeasurer:
        if not self.settings.prometheus:
            return EnvoyMeasurer(lambda: self.envoy.metrics)
        server = ProviderSettings(f"http://127.0.0.1:{self._prometheus_port}")
        measurer = MetricMeasurer(
            MeasurerSettings(server, mesh="envoy"),
            templates=StoreTemplates(self.store),
            credentials=EnvCredentialSource(),
            providers={
                **PROVIDERS,
                "prometheus": partial(PrometheusProvider, sessions=self.metric_sessions),
            },
        )
        return FencedMeasurer(measurer, lambda cluster, s: self.envoy.metrics.fenced(cluster, s))

    async def _start_prometheus(self) -> None:
        """Prometheus scraping Envoy's stats and coalmine's own metrics every second."""
        envoy = self.envoy.admin_url.removeprefix("http://")
        assert self.api is not None
        api = self.api.url.removeprefix("http://")
        self.prometheus = SupervisedPrometheus(
            [
                ScrapeTarget("envoy", envoy, "/stats/prometheus"),
                ScrapeTarget("coalmine", api, "/metrics"),
            ],
            port=self._prometheus_port,
            data_dir=self.settings.state_dir / "prometheus",
        )
        await self.prometheus.start()

    async def canary_metrics(self, namespace: str, name: str, interval: str) -> dict[str, Any]:
        """Every built-in for the primary and the canary, side by side (`coalmine metrics`)."""
        canary = self._load_canary(namespace, name)
        if canary is None:
            raise NotFound(f"canary {name} not found in namespace {namespace}")
        source = self.prometheus.url if self.prometheus else "envoy stats (embedded)"
        return await side_by_side(self.measurer, canary, interval, source)

    def _hooks(self) -> Hooks:
        return ResolvingHooks(self.hooks, self.resolver)

    def _notifier(self) -> Notifier:
        alerting = AlertingNotifier(
            inner=StoreEvents(self.store),
            providers=StoreAlertProviders(self.store),
            secrets=LocalSecrets(self.settings.state_dir),
        )
        return EventWebhookNotifier(alerting, self.hooks)

    def _recorder(self) -> Recorder:
        prometheus = PrometheusRecorder(self.registry, mesh_provider="envoy")
        return Recorders(StoreRecorder(self.store), prometheus, self.sampler)

    # Names and the load tester ----------------------------------------------------------

    async def _start_loadtester(self) -> None:
        settings = TaskSettings(commands=self.settings.loadtester_commands, token=self.token)
        app = create_loadtester(settings, run_load=resolving_load(generate_load, self.resolver))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.settings.loadtester_port)
        await site.start()
        self._servers.append(runner)
        self._loadtester = ("127.0.0.1", bound_port(site))

    def _loadtester_address(self) -> tuple[str, int] | None:
        return self._loadtester

    def _loadtester_token(self, url: str) -> str | None:
        """The built-in load tester wants the API's token; no other webhook gets it."""
        parts = urlsplit(url)
        return self.token if (parts.hostname, parts.port) == self._loadtester else None

    def _config_content(self, kind: str, namespace: str, name: str) -> dict[str, bytes] | None:
        """A stored ConfigMap's or Secret's content by key, for a replica's environment."""
        stored = self.store.get(kind, namespace, name)
        if stored is None:
            return None
        model = ConfigMap if kind == "ConfigMap" else Secret
        return decoded(model.model_validate(stored.manifest))

    def _is_served(self, host: str) -> bool:
        """Whether the gateway answers for exactly this name (wildcards do not count, so
        that external URLs in webhooks are never sent to the gateway)."""
        listeners = self.envoy.current.listeners
        return any(host in vhost.domains for lst in listeners for vhost in lst.virtual_hosts)

    def _load_canary(self, namespace: str, name: str) -> Canary | None:
        stored = self.store.get("Canary", namespace, name)
        if stored is None:
            return None
        canary = self.book.model(stored)
        assert isinstance(canary, Canary)
        return canary

    # The control plane the API serves --------------------------------------------------

    async def apply(self, text: str, source: str) -> list[Applied]:
        """Parsed off the event loop (bounded by the parse limits), checked by the models,
        against the store and by Envoy, and only then stored: all or nothing."""
        async with self._apply_lock:
            resources = await asyncio.to_thread(self.book.parse, text, source)
            self.book.check(resources)
            await self._admit(objects_after(self.models, put=resources))
            applied = self.book.write(resources)
        await self.sync()
        return applied

    async def delete(self, text: str, source: str) -> list[Applied]:
        async with self._apply_lock:
            resources = await asyncio.to_thread(self.book.parse_deletion, text, source)
            keys = {label_of(r) for r in resources}
            await self._admit(objects_after(self.models, removed=keys))
            for namespace, name in sorted((ns, n) for k, ns, n in keys if k == "Canary"):
                await self._release_canary(namespace, name, keys)
            deleted = self.book.remove(resources)
        await self.sync()
        return deleted

    async def _release_canary(self, namespace: str, name: str, deleted: set[Key]) -> None:
        """Before a Canary goes: all traffic to its primary, served by Envoy, then the
        user's own objects back (see local.release). When its target goes in the same
        request, the user is removing the service: what the Canary made goes too."""
        canary = self._load_canary(namespace, name)
        await self.runner.forget(namespace, name)
        target = ("Deployment", namespace, canary.spec.target_ref.name) if canary else None
        if canary is not None and target not in deleted:
            await release_canary(
                canary,
                LocalRouting(self.store, self.sync_dataplane, self.models),
                self.processes,
                self.sync_workloads,
            )
        else:
            release_objects(self.store, namespace, name)

    async def _admit(self, objects: Objects) -> None:
        """Raise EnvoyRejected when Envoy would refuse the routes these objects make."""
        await self.envoy.check(translate(objects, self._endpoints, *self._gateway()).plane)

    async def _quarantine(self) -> None:
        """Objects stored by an older coalmine (or by hand) that cannot be served are set
        aside, so that everything else serves; get, describe and doctor show them."""
        moved = self.book.quarantine_invalid()
        moved += await quarantine_unservable(self.models, self._admit)
        for kind, namespace, name in moved:
            log.warning(
                "%s %s (namespace %s) quarantined: it cannot be served; see coalmine doctor",
                kind.lower(),
                name,
                namespace,
            )

    async def request(self, namespace: str, name: str, action: Action, by: str) -> StoredObject:
        return await self.changes.request(namespace, name, action, by)

    async def suspend(self, namespace: str, name: str, suspended: bool, by: str) -> StoredObject:
        return await self.changes.suspend(namespace, name, suspended, by)

    async def set_env(
        self, namespace: str, name: str, env: dict[str, str], container: str | None
    ) -> str:
        return await self.changes.set_env(namespace, name, env, container)

    def revision(self, namespace: str, name: str) -> str:
        return self.changes.revision(namespace, name)

    def objects(self, kind: str | None, namespace: str | None) -> list[StoredObject]:
        found = self.store.objects(kind, namespace)
        return [self._with_live_status(o) for o in found]

    def quarantined(self, kind: str | None, namespace: str | None) -> list[QuarantinedObject]:
        return self.store.quarantined(kind, namespace)

    def get(self, kind: str, namespace: str, name: str) -> StoredObject:
        stored = self.store.get(kind, namespace, name)
        if stored is None:
            raise NotFound(f"{kind.lower()} {name} not found in namespace {namespace}")
        return self._with_live_status(stored)

    def events(
        self, namespace: str | None, name: str | None, after: int, limit: int
    ) -> list[EventRecord]:
        return self.store.events(namespace, name, after=after, limit=limit)

    def history(self, namespace: str, name: str, ticks: int | None = None) -> dict[str, Any]:
        if self.store.get("Canary", namespace, name) is None:
            raise NotFound(f"canary {name} not found in namespace {namespace}")
        return store_records(self.store, namespace, name, ticks_only=ticks).to_json()

    def describe(self) -> dict[str, Any]:
        loadtester = (
            f"http://{self._loadtester[0]}:{self._loadtester[1]}" if self._loadtester else ""
        )
        return {
            "gateway": self.gateway_url,
            "loadtester": loadtester,
            "prometheus": self.prometheus.url if self.prometheus else "",
            "envoyAdmin": self.envoy.admin_url,
            "stateDir": str(self.settings.state_dir),
            "started": self.started.isoformat(),
            "warnings": self.warnings,
            "quarantined": [
                {"object": f"{q.kind.lower()}/{q.name}", "namespace": q.namespace}
                | {"reason": q.reason, "fix": q.fix}
                for q in self.store.quarantined()
            ],
        }

    def _with_live_status(self, stored: StoredObject) -> StoredObject:
        if stored.kind != "Deployment":
            return stored
        state = self.processes.workload_state(stored.namespace, stored.name)
        if state is None:
            return stored
        live = {
            **(stored.status or {}),
            "replicas": state.replicas,
            "updatedReplicas": state.updated,
            "availableReplicas": state.available,
            "revision": state.revision,
        }
        return StoredObject(
            stored.kind,
            stored.namespace,
            stored.name,
            stored.manifest,
            live,
            stored.owner,
            stored.generation,
            stored.revision,
            stored.updated,
        )
