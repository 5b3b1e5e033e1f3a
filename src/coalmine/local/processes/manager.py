"""`LocalDeployments`: every Deployment of one daemon, run as supervised local processes.

The daemon calls `apply`, `scale` and `delete` as users change objects, reads `status`
for the engine and the CLI, and `endpoints` for the Services in front of them. When the
set of ready endpoints changes, `endpoints_version` goes up; the daemon waits for that
with `wait_endpoints_changed(after=version)`, which returns at once when the version
has already moved, so a change between reading and waiting is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from coalmine.api.workloads import Container, Deployment
from coalmine.engine.observations import WorkloadState
from coalmine.errors import ManifestError, NotFound, Problem
from coalmine.local.processes.configenv import ConfigLookup
from coalmine.local.processes.context import RuntimeContext
from coalmine.local.processes.deployment import LocalDeployment
from coalmine.local.processes.hostports import PortAllocator
from coalmine.local.processes.leftovers import (
    Orphan,
    PidFiles,
    ProcessRecord,
    find_orphans,
    kill_records,
)
from coalmine.local.processes.settings import ProcessSettings
from coalmine.local.processes.status import DeploymentStatus, Endpoint

__all__ = ["LocalDeployments"]

LEFTOVER_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL for leftovers (their own grace period is not known)."""


def _no_configs(_kind: str, _namespace: str, _name: str) -> dict[str, bytes] | None:
    """Without a store, no ConfigMap or Secret exists."""
    return None


class LocalDeployments:
    """The process layer of one daemon. Call `start()` first and `stop()` last."""

    def __init__(
        self,
        state_dir: Path,
        *,
        settings: ProcessSettings | None = None,
        allocator: PortAllocator | None = None,
        confirm_unrouted: bool = False,
        configs: ConfigLookup | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.settings = settings or ProcessSettings()
        self.pid_files = PidFiles(state_dir / "pids")
        self._allocator = allocator or PortAllocator()
        self._context: RuntimeContext | None = None
        self._deployments: dict[tuple[str, str], LocalDeployment] = {}
        self._version = 0
        self._signature: frozenset[tuple[str, tuple[tuple[int, int], ...]]] = frozenset()
        self._changed = asyncio.Event()
        self._orphans: dict[tuple[str, str], list[Orphan]] = {}
        self._routed_version: int | None = None
        """The endpoints version the data plane last confirmed; None: not told yet."""
        self._confirm_unrouted = confirm_unrouted
        """A data plane routes to the replicas (from before its first `routed` call, as
        after a restart it still routes by what the previous daemon told it)."""
        self._routed = asyncio.Event()
        self._stopping = False
        """`stop` has begun: every replica goes, and nobody waits to be routed around."""
        self._configs = configs

    async def start(self) -> list[int]:
        """Find the replicas a previous daemon with this state directory left running
        (see `leftovers`): those still running as recorded wait to be adopted by `apply`
        of their Deployment; what cannot be adopted is killed. Then get ready to run
        replicas. Returns the pids it killed."""
        self._stopping = False
        orphans, rest = find_orphans(self.pid_files)
        for orphan in orphans:
            key = (orphan.record.namespace, orphan.record.deployment)
            self._orphans.setdefault(key, []).append(orphan)
        killed = await kill_records(
            self.pid_files,
            rest,
            grace=self._leftover_grace(),
            kill_wait=self.settings.kill_wait_seconds,
        )
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        self._context = RuntimeContext(
            settings=self.settings,
            allocator=self._allocator,
            session=aiohttp.ClientSession(connector=connector),
            state_dir=self.state_dir,
            pid_files=self.pid_files,
            token=secrets.token_hex(6),
            unrouted=self._until_unrouted,
            configs=self._configs or _no_configs,
        )
        return killed

    @property
    def orphans(self) -> int:
        """Replica processes of a previous daemon still waiting for their Deployment."""
        return sum(len(found) for found in self._orphans.values())

    async def kill_unclaimed(self) -> list[int]:
        """Kill the left-over replicas no Deployment adopted (it was deleted meanwhile)."""
        records = [o.record for found in self._orphans.values() for o in found]
        for found in self._orphans.values():
            for orphan in found:
                orphan.handle.close()
        self._orphans.clear()
        return await kill_records(
            self.pid_files,
            records,
            grace=self._leftover_grace(),
            kill_wait=self.settings.kill_wait_seconds,
        )

    def routed(self, version: int) -> None:
        """The data plane now routes by the endpoints of `version` (or a later one).

        With `confirm_unrouted` (or from the first call on), a stopping replica waits for
        this before its SIGTERM."""
        if self._routed_version is None or version > self._routed_version:
            self._routed_version = version
            routed, self._routed = self._routed, asyncio.Event()
            routed.set()

    async def _until_unrouted(self) -> None:
        """Wait (bounded) until the data plane confirms the current endpoints, which no
        longer include a replica that has just left them."""
        wanted = self._version
        if self._routed_version is None and not self._confirm_unrouted:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.unroute_timeout_seconds):
                while not self._stopping and (
                    self._routed_version is None or self._routed_version < wanted
                ):
                    await self._routed.wait()

    def _leftover_grace(self) -> float:
        grace = self.settings.termination_grace_seconds
        return LEFTOVER_GRACE if grace is None else grace

    @property
    def marker_prefix(self) -> str:
        """Every replica process of this runtime has an environment entry starting so."""
        return self._require_context().marker_prefix

    async def stop(self) -> None:
        """Stop every replica (SIGTERM, SIGKILL after the grace period) and wait for them.

        A replica already on its way out (a scale-down) stops waiting to be routed around:
        the data plane that would confirm it is being stopped too (its sync ended with the
        control plane), so the wait would only run out its timeout (10 s by default)."""
        self._stopping = True
        self._routed.set()
        deployments = list(self._deployments.values())
        # Forgotten only once stopped: a stop cut short by its deadline leaves them here,
        # so that the last-resort SIGKILL (`pids`) finds them and a second stop reaps them.
        await asyncio.gather(*(d.shutdown(drain=0.0) for d in deployments))
        self._deployments.clear()
        await self.kill_unclaimed()
        self._endpoints_maybe_changed()
        await self._close()

    async def detach(self) -> None:
        """Stop supervising and leave every replica running, recorded, for the next daemon."""
        deployments = list(self._deployments.values())
        self._deployments.clear()
        await asyncio.gather(*(d.detach() for d in deployments))
        for found in self._orphans.values():
            for orphan in found:
                orphan.handle.close()
        self._orphans.clear()
        await self._close()

    def pids(self) -> list[int]:
        """Every process this layer watches now (for a last-resort SIGKILL)."""
        return [record.pid for record in self.running_pids()] + [
            o.record.pid for found in self._orphans.values() for o in found
        ]

    async def _close(self) -> None:
        if self._context is not None:
            await self._context.session.close()
            self._context = None

    async def apply(self, deployment: Deployment) -> DeploymentStatus:
        """Create the Deployment, or update it: a new template rolls out, a new count scales."""
        context = self._require_context()
        _check_probe_ports(deployment)
        key = (deployment.metadata.namespace, deployment.metadata.name)
        current = self._deployments.get(key)
        if current is None:
            orphans = self._orphans.pop(key, [])
            current = LocalDeployment(
                deployment, context, self._endpoints_maybe_changed, orphans=orphans
            )
            self._deployments[key] = current
            current.start()
        else:
            current.update(deployment)
        return current.status()

    async def scale(self, namespace: str, name: str, replicas: int) -> DeploymentStatus:
        """Change only the replica count (no new revision)."""
        current = self._get(namespace, name)
        if replicas < 0:
            problem = Problem(
                f"deployment {name}", "spec.replicas", f"must be 0 or more, not {replicas}"
            )
            raise ManifestError([problem])
        spec = current.deployment.spec.model_copy(update={"replicas": replicas})
        current.update(current.deployment.model_copy(update={"spec": spec}))
        return current.status()

    async def delete(self, namespace: str, name: str) -> None:
        """Delete the Deployment; returns when its processes are gone."""
        current = self._get(namespace, name)
        del self._deployments[(namespace, name)]
        self._endpoints_maybe_changed()
        await current.shutdown(drain=self.settings.drain_seconds)

    def status(self, namespace: str, name: str) -> DeploymentStatus:
        return self._get(namespace, name).status()

    def workload_state(self, namespace: str, name: str) -> WorkloadState | None:
        """What the engine sees of the Deployment; None when it is not running here."""
        current = self._deployments.get((namespace, name))
        return None if current is None else current.status().to_workload_state()

    def statuses(self) -> list[DeploymentStatus]:
        """Every Deployment, by namespace and name (for `coalmine get deployments`)."""
        return [self._deployments[key].status() for key in sorted(self._deployments)]

    def endpoints(self, namespace: str, selector: Mapping[str, str]) -> list[Endpoint]:
        """Ready replicas in `namespace` whose pod labels match `selector`.

        An empty selector selects nothing, as for a Kubernetes Service without one.
        """
        if not selector:
            return []
        return [
            endpoint
            for (ns, _), deployment in sorted(self._deployments.items())
            if ns == namespace
            for endpoint in deployment.endpoints()
            if all(endpoint.labels.get(k) == v for k, v in selector.items())
        ]

    def drained(self, namespace: str, selector: Mapping[str, str]) -> float | None:
        """When the replicas that `selector` selects in `namespace` and that run another
        revision than their Deployment's current one were last all stopped (monotonic
        seconds); `math.inf` while one still runs; None when none ever stopped."""
        found = [
            deployment.drained(selector)
            for (ns, _), deployment in self._deployments.items()
            if ns == namespace
        ]
        return max((at for at in found if at is not None), default=None)

    @property
    def endpoints_version(self) -> int:
        """Goes up by one whenever the set of ready endpoints (or their ports) changes."""
        return self._version

    async def wait_endpoints_changed(self, after: int, max_wait: float) -> int:
        """Wait until `endpoints_version` is not `after`, at most `max_wait` seconds.

        Returns the current version: equal to `after` when it timed out.
        """
        if self._version == after:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max_wait):
                    await self._changed.wait()
        return self._version

    def running_pids(self) -> list[ProcessRecord]:
        """Every replica process running now (also kept in `<state-dir>/pids/`)."""
        return [record for d in self._deployments.values() for record in d.records()]

    def _endpoints_maybe_changed(self) -> None:
        signature = frozenset(
            (e.replica, tuple(sorted(e.ports.host_ports.items())))
            for d in self._deployments.values()
            for e in d.endpoints()
        )
        if signature != self._signature:
            self._signature = signature
            self._version += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _get(self, namespace: str, name: str) -> LocalDeployment:
        try:
            return self._deployments[(namespace, name)]
        except KeyError:
            raise NotFound(
                f'deployment "{name}" not found in namespace "{namespace}"; '
                "apply it first (coalmine apply -f FILE)"
            ) from None

    def _require_context(self) -> RuntimeContext:
        if self._context is None:
            raise RuntimeError("LocalDeployments.start() must be called before apply()")
        return self._context


def _check_probe_ports(deployment: Deployment) -> None:
    """A probe can reach only a declared containerPort: locally each is mapped to a host port."""
    container = deployment.spec.template.spec.containers[0]
    problems = [
        Problem(
            f"deployment {deployment.metadata.name}",
            f"spec.template.spec.containers[0].{field}.httpGet.port",
            f"{port!r} is not one of the container's ports ({_declared(container)}); "
            "locally a probe can reach only a declared containerPort: add it to ports",
        )
        for field, port in _probe_ports(container)
        if not _declares(container, port)
    ]
    if problems:
        raise ManifestError(problems)


def _probe_ports(container: Container) -> list[tuple[str, int | str]]:
    probes = {
        "readinessProbe": container.readiness_probe,
        "livenessProbe": container.liveness_probe,
        "startupProbe": container.startup_probe,
    }
    return [(field, probe.http_get.port) for field, probe in probes.items() if probe is not None]


def _declares(container: Container, port: int | str) -> bool:
    if isinstance(port, str):
        return any(p.name == port for p in container.ports)
    return any(p.container_port == port for p in container.ports)


def _declared(container: Container) -> str:
    return (
        ", ".join(str(p.container_port) + (f" {p.name}" if p.name else "") for p in container.ports)
        or "none"
    )
