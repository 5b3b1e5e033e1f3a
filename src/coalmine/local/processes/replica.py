"""One replica: a supervised process, restarted when it exits, probed while it runs.

This is what the kubelet does for a one-container pod with restartPolicy Always: start
the process, probe readiness (the replica is an endpoint only while ready) and liveness
(kill and restart after too many failures), restart it after an exit with a growing
delay, and on stop take it out of the endpoints first, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coalmine.api.workloads import Container, PodTemplate, Probe
from coalmine.errors import AdapterError
from coalmine.local.processes.backoff import Backoff
from coalmine.local.processes.configenv import ConfigMissing, config_env
from coalmine.local.processes.configfiles import remove_volumes, write_volumes
from coalmine.local.processes.context import RuntimeContext
from coalmine.local.processes.hostports import PortMap
from coalmine.local.processes.leftovers import Orphan, ProcessRecord
from coalmine.local.processes.probes import (
    Check,
    ProbeTiming,
    http_check,
    until_liveness_fails,
    until_port_accepts,
    until_started,
    watch_readiness,
)
from coalmine.local.processes.spawn import (
    LaunchSpec,
    RunningProcess,
    append_log_line,
    describe_argv,
    launch,
)
from coalmine.local.processes.status import Endpoint, ReplicaPhase, ReplicaStatus, wall_time

__all__ = ["Replica", "ReplicaTemplate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicaTemplate:
    """What every replica of one revision of one Deployment has in common."""

    namespace: str
    deployment: str
    revision: str
    template: PodTemplate

    @property
    def container(self) -> Container:
        return self.template.spec.containers[0]

    @property
    def labels(self) -> Mapping[str, str]:
        """The pod labels: the template's, plus pod-template-hash as Kubernetes adds it."""
        return {**self.template.metadata.labels, "pod-template-hash": self.revision[:10]}


class Replica:
    def __init__(
        self,
        replica_id: str,
        template: ReplicaTemplate,
        context: RuntimeContext,
        on_change: Callable[[], None],
        *,
        ports: PortMap | None = None,
    ) -> None:
        self.id = replica_id
        self.template = template
        self._context = context
        self._on_change = on_change
        self.ports = ports or PortMap.allocate(template.container, context.allocator)
        self.created = self.since = time.monotonic()
        self.phase = ReplicaPhase.STARTING
        self.ready = False
        self.ready_since: float | None = None
        self.restarts = 0
        self.last_exit = ""
        self.process: RunningProcess | None = None
        self._record: ProcessRecord | None = None
        self._task: asyncio.Task[None] | None = None
        self._orphan: RunningProcess | None = None

    @classmethod
    def adopt(
        cls,
        orphan: Orphan,
        template: ReplicaTemplate,
        context: RuntimeContext,
        on_change: Callable[[], None],
    ) -> Replica:
        """Take over a replica process a previous `coalmine up` left running: same id,
        ports and process. Ready at once if it was ready (the data plane still routes to
        it), until its readiness probe, which starts at once, says otherwise. Call
        `start()`."""
        record = orphan.record
        host_ports = {int(port): host for port, host in record.host_ports.items()}
        ports = PortMap.adopt(template.container, host_ports, context.allocator)
        replica = cls(record.replica, template, context, on_change, ports=ports)
        spec = LaunchSpec(
            argv=[], env={}, cwd=None, log_path=replica.log_path, marker=record.marker
        )
        replica._orphan = replica.process = RunningProcess(spec, orphan.handle)
        if record.ready_since is not None:
            replica.ready = True
            age = max(0.0, time.time() - record.ready_since)
            replica.ready_since = time.monotonic() - age
        return replica

    @property
    def log_path(self) -> Path:
        t = self.template
        return self._context.log_path(t.namespace, t.deployment, self.id)

    @property
    def volumes_path(self) -> Path:
        """Where this replica's ConfigMap and Secret volumes are written (`configfiles`)."""
        t = self.template
        return self._context.state_dir / "volumes" / t.namespace / t.deployment / self.id

    @property
    def record(self) -> ProcessRecord | None:
        """The running process, as recorded for leftover clean-up; None if none runs."""
        return self._record

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"replica {self.id}")
        self._task.add_done_callback(self._report_crash)

    def available(self, min_ready_seconds: float, now: float) -> bool:
        return self.ready_since is not None and now - self.ready_since >= min_ready_seconds

    async def stop(self, *, drain: float) -> None:
        """Leave the endpoints, wait until the data plane no longer routes to this replica
        (bounded) and then `drain` seconds more for requests in flight, then SIGTERM and
        SIGKILL after the grace period."""
        self._set_ready(False)
        self._enter(ReplicaPhase.TERMINATING)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # logged when it failed
                await self._task
        if self.process is not None and self.process.running:
            if drain > 0:
                began = time.monotonic()
                await self._context.unrouted()
                self._log(
                    f"stopping: routed around after {time.monotonic() - began:.2f}s;"
                    f" {drain:g}s for requests in flight, then SIGTERM"
                )
                await asyncio.sleep(drain)
            code = await self.process.terminate(self._grace(), self._kill_wait())
            self._log(f"stopped: {_describe_exit(code)}")
        self._forget_process()
        remove_volumes(self.volumes_path)
        self.ports.release(self._context.allocator)

    async def detach(self) -> None:
        """Stop supervising and leave the process running, its record in place, for the
        next `coalmine up` to adopt."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.process is not None:
            self.process.detach()
            self._log(f"left running (pid {self.process.pid}): coalmine up stopped")

    def endpoint(self) -> Endpoint:
        t = self.template
        return Endpoint(t.namespace, t.deployment, self.id, t.revision, t.labels, self.ports)

    def status(self, min_ready_seconds: float, now: float) -> ReplicaStatus:
        running = self.process if self.process and self.process.running else None
        return ReplicaStatus(
            id=self.id,
            revision=self.template.revision,
            phase=self.phase,
            pid=running.pid if running else None,
            port=self.ports.primary,
            ready=self.ready,
            available=self.available(min_ready_seconds, now),
            restarts=self.restarts,
            created=wall_time(self.created, now),
            since=wall_time(self.since, now),
            last_exit=self.last_exit,
        )

    async def _supervise(self) -> None:
        settings = self._context.settings
        backoff = Backoff(
            settings.backoff_initial_seconds,
            settings.backoff_max_seconds,
            settings.backoff_reset_seconds,
        )
        while True:
            ran_for = await self._run_once()
            delay = backoff.next_delay(ran_for)
            self._log(f"{self.last_exit} after {ran_for:.1f}s; restarting in {delay:g}s")
            self._enter(ReplicaPhase.BACK_OFF)
            await asyncio.sleep(delay)
            self.restarts += 1
            self.ports = self.ports.with_taken_ports_replaced(self._context.allocator)

    async def _run_once(self) -> float:
        """Start the process (or take the adopted one) and watch it until it ends;
        returns how long it ran."""
        self._enter(ReplicaPhase.STARTING)
        process, self._orphan = self._orphan, None
        if process is None:
            try:
                spec = self._launch_spec()
            except ConfigMissing as missing:
                self.last_exit = str(missing)
                return 0.0
            try:
                process = await launch(spec)
            except (OSError, subprocess.SubprocessError) as error:
                self.last_exit = f"could not start {spec.argv[0]!r}: {error}"
                return 0.0
            self._adopt(process, f"started pid {process.pid}")
        else:
            self._adopt(process, f"adopted pid {process.pid} left by a previous coalmine up")
        self.last_exit = await self._watch(process)  # if cancelled, stop() takes over
        self._set_ready(False)
        self._forget_process()
        return time.monotonic() - process.started

    def _launch_spec(self) -> LaunchSpec:
        container, t = self.template.container, self.template
        env = dict(os.environ)
        # coalmine's own environment comes first on PATH, so that `coalmine demo-app` and
        # `python` in a manifest are the ones `coalmine up` runs with, even when its
        # virtual environment is not activated.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(config_env(container, t.namespace, self._context.configs))
        volumes = write_volumes(
            t.template.spec, t.namespace, self._context.configs, self.volumes_path
        )
        env.update(volumes)
        if self.ports.primary is not None:
            env["PORT"] = str(self.ports.primary)
        env.update({f"PORT_{c}": str(h) for c, h in self.ports.host_ports.items()})
        marker = self._context.marker(t.namespace, t.deployment, self.id)
        name, _, value = marker.partition("=")
        env[name] = value
        return LaunchSpec(
            argv=[*container.command, *container.args],
            env=env,
            cwd=container.working_dir,
            log_path=self.log_path,
            marker=marker,
        )

    def _adopt(self, process: RunningProcess, what: str) -> None:
        t, context = self.template, self._context
        self.process = process
        self._record = ProcessRecord(
            pid=process.pid,
            start_ticks=process.start_ticks,
            marker=process.spec.marker,
            namespace=t.namespace,
            deployment=t.deployment,
            replica=self.id,
            owner_pid=context.owner_pid,
            owner_start_ticks=context.owner_start_ticks,
            revision=t.revision,
            template=t.template.model_dump(mode="json", by_alias=True, exclude_none=True),
            host_ports={str(c): h for c, h in self.ports.host_ports.items()},
        )
        self._record_readiness()
        context.pid_files.write(self._record)
        argv = describe_argv(process.spec.argv) if process.spec.argv else "(as it was started)"
        self._log(f"{what} (revision {t.revision}): {argv}")
        self._enter(ReplicaPhase.RUNNING)

    def _forget_process(self) -> None:
        if self._record is not None:
            self._context.pid_files.remove(self._record)
            self._record = None

    async def _watch(self, process: RunningProcess) -> str:
        """Wait until the process exits or fails its startup or liveness probe; says which.
        Readiness and liveness are probed once the startup probe (if any) passed."""
        exited = asyncio.create_task(process.wait())
        watchers: set[asyncio.Task[Any]] = {exited}
        try:
            startup = self._startup()
            if startup is not None:
                watchers.add(startup)
                done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
                if exited in done:
                    return _describe_exit(exited.result())
                watchers.discard(startup)
                if (reason := startup.result()) is not None:
                    return await self._kill_unhealthy(process, "startup", reason)
            watchers.add(asyncio.create_task(self._readiness()))
            liveness = self._liveness()
            if liveness is not None:
                watchers.add(liveness)
            while True:
                done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
                if exited in done:
                    return _describe_exit(exited.result())
                if liveness in done and liveness is not None:
                    return await self._kill_unhealthy(process, "liveness", liveness.result())
                for task in done:
                    task.result()  # a watcher that broke raises here
                watchers -= done
        finally:
            for task in watchers:
                task.cancel()

    async def _kill_unhealthy(self, process: RunningProcess, probe: str, reason: str) -> str:
        self._log(f"{probe} probe failed: {reason}; killing pid {process.pid}")
        self._set_ready(False)
        code = await process.terminate(self._grace(), self._kill_wait())
        return f"{probe} probe failed ({reason}), {_describe_exit(code)}"

    def _startup(self) -> asyncio.Task[str | None] | None:
        """The startup probe, unless there is none or the process was adopted (it has been
        up for a while: it started long ago)."""
        probe = self.template.container.startup_probe
        if probe is None or self._adopted_now():
            return None
        timing = ProbeTiming.of(probe, self._context.settings)
        return asyncio.create_task(until_started(self._http_check(probe, timing), timing))

    async def _readiness(self) -> None:
        """Keep `ready` up to date: by the readiness probe, else by the port accepting."""
        settings = self._context.settings
        probe = self.template.container.readiness_probe
        if probe is not None:
            timing = ProbeTiming.of(probe, settings)
            if self._adopted_now():
                timing = replace(timing, initial_delay=0.0)  # it has been up for a while
            await watch_readiness(self._http_check(probe, timing), timing, self._set_ready)
            return
        if self.ports.primary is not None:
            await until_port_accepts(self.ports.primary, settings.tcp_check_period_seconds)
        self._set_ready(True)

    def _adopted_now(self) -> bool:
        return self.process is not None and self.process.process.adopted

    def _liveness(self) -> asyncio.Task[str] | None:
        probe = self.template.container.liveness_probe
        if probe is None:
            return None
        timing = ProbeTiming.of(probe, self._context.settings)
        return asyncio.create_task(until_liveness_fails(self._http_check(probe, timing), timing))

    def _http_check(self, probe: Probe, timing: ProbeTiming) -> Check:
        port = self.ports.host_port(probe.http_get.port)
        if port is None:  # apply() checks this; a template that got here is a bug
            raise AdapterError(f"probe port {probe.http_get.port!r} is not a containerPort")
        return http_check(self._context.session, port, probe.http_get.path, timing.timeout)

    def _set_ready(self, ready: bool) -> None:
        if ready and self.phase == ReplicaPhase.TERMINATING:
            return
        if ready != self.ready:
            self.ready = ready
            self.ready_since = time.monotonic() if ready else None
            self._record_readiness()
            self._on_change()

    def _record_readiness(self) -> None:
        """Keep the pid record's `ready_since` (wall clock) in line, for a next daemon."""
        if self._record is None:
            return
        since = None
        if self.ready_since is not None:
            since = time.time() - (time.monotonic() - self.ready_since)
        if self._record.ready_since != since:
            self._record = replace(self._record, ready_since=since)
            self._context.pid_files.write(self._record)

    def _enter(self, phase: ReplicaPhase) -> None:
        if self.phase != ReplicaPhase.TERMINATING:
            self.phase, self.since = phase, time.monotonic()
            self._on_change()

    def _grace(self) -> float:
        grace = self._context.settings.termination_grace_seconds
        return (
            self.template.template.spec.termination_grace_period_seconds if grace is None else grace
        )

    def _kill_wait(self) -> float:
        return self._context.settings.kill_wait_seconds

    def _log(self, text: str) -> None:
        append_log_line(self.log_path, text)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("supervisor of replica %s failed", self.id, exc_info=task.exception())


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exited (adopted: its exit code went to init)"
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
