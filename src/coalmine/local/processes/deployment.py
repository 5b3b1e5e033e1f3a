"""One Deployment: its replicas, and the loop that moves them towards the spec.

The loop wakes when the spec changes or a replica changes (started, ready, exited,
stopped), and when a ready replica is due to become available (minReadySeconds). Each
pass asks `plan_rollout` what to start and stop. Progress is tracked the way the
Kubernetes Deployment controller tracks its Progressing condition: a rollout that has
made no progress (no replica started, stopped or newly available) for
progressDeadlineSeconds has exceeded its deadline.

It also remembers when the replicas of each revision last stopped (`drained`): a revision's
measurements must not begin before the replicas of the revisions before it finished
their last requests (see `StatsCollector`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from coalmine.api.workloads import Deployment, PodTemplate, pod_template_hash
from coalmine.local.processes.context import RuntimeContext
from coalmine.local.processes.leftovers import Orphan, ProcessRecord
from coalmine.local.processes.replica import Replica, ReplicaTemplate
from coalmine.local.processes.rollout import ReplicaView, plan_rollout
from coalmine.local.processes.status import DeploymentStatus, Endpoint, wall_time

__all__ = ["LocalDeployment"]

log = logging.getLogger(__name__)

MAX_SLEEP = 1.0
"""The loop re-checks at least this often (seconds), even when nothing woke it."""

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The characters Kubernetes uses for generated pod-name suffixes."""
STOPS_KEPT = 16
"""Revisions whose last stop is remembered (the latest ones); older stops are long over."""


class LocalDeployment:
    def __init__(
        self,
        deployment: Deployment,
        context: RuntimeContext,
        on_change: Callable[[], None],
        *,
        orphans: list[Orphan] | None = None,
    ) -> None:
        self.deployment = deployment
        self.revision = pod_template_hash(deployment.spec.template)
        self.generation = 1
        self.observed_generation = 0
        self.replicas: list[Replica] = []
        """Replicas that count: not terminating."""
        self.terminating: list[Replica] = []
        self._context = context
        self._on_change = on_change
        self._stops: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_progress = time.monotonic()
        self._unavailable_since: float | None = self._last_progress
        self._rollout_done = False
        self._orphans = orphans or []
        self._stopped: dict[str, tuple[float, Mapping[str, str]]] = {}
        """Per revision: when its last replica stopped (monotonic) and its pod labels."""

    @property
    def namespace(self) -> str:
        return self.deployment.metadata.namespace

    @property
    def name(self) -> str:
        return self.deployment.metadata.name

    def start(self) -> None:
        """Adopt what a previous daemon left running, start the replicas it needs now, and
        the loop that keeps them as specified."""
        for orphan in self._orphans:
            self._adopt(orphan)
        self._orphans = []
        self._reconcile()
        self._task = asyncio.create_task(self._run(), name=f"deployment {self.name}")

    def update(self, deployment: Deployment) -> None:
        """Take a new spec; a new template or replica count starts a new rollout."""
        old = self.deployment.spec
        self.deployment = deployment
        if deployment.spec == old:
            return
        revision = pod_template_hash(deployment.spec.template)
        if revision != self.revision or deployment.spec.replicas != old.replicas:
            self._last_progress = time.monotonic()
            self._rollout_done = False
        self.revision = revision
        self.generation += 1
        self._reconcile()  # so the status returned by apply already shows the plan

    async def shutdown(self, *, drain: float) -> None:
        """Stop the loop and every replica; returns when all processes are gone."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for replica in list(self.replicas):
            self._begin_stop(replica, drain)
        await asyncio.gather(*list(self._stops), return_exceptions=True)

    async def detach(self) -> None:
        """Stop supervising; leave every replica process running for the next daemon."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(replica.detach() for replica in self.replicas))
        await asyncio.gather(*list(self._stops), return_exceptions=True)

    def endpoints(self) -> list[Endpoint]:
        return [replica.endpoint() for replica in self.replicas if replica.ready]

    def drained(self, selector: Mapping[str, str]) -> float | None:
        """When the last replica of another revision than the current one, among those
        `selector` selects, stopped (monotonic seconds): from then on no request of theirs
        is in flight. `math.inf` while one still runs (terminating included); None when
        none ever stopped here."""
        current = self.revision
        for replica in (*self.replicas, *self.terminating):
            if replica.template.revision != current and _selects(selector, replica.template.labels):
                return math.inf
        stops = [
            at
            for revision, (at, labels) in self._stopped.items()
            if revision != current and _selects(selector, labels)
        ]
        return max(stops, default=None)

    def records(self) -> list[ProcessRecord]:
        replicas = [*self.replicas, *self.terminating]
        return [r.record for r in replicas if r.record is not None]

    def status(self) -> DeploymentStatus:
        now = time.monotonic()
        self._note_availability(now)
        status = self._count(now)
        if status.complete:
            self._rollout_done = True
        stalled = now - self._last_progress > self.deployment.spec.progress_deadline_seconds
        return replace(status, deadline_exceeded=stalled and not self._rollout_done)

    def _count(self, now: float) -> DeploymentStatus:
        spec = self.deployment.spec
        updated = [r for r in self.replicas if r.template.revision == self.revision]
        everyone = sorted([*self.replicas, *self.terminating], key=lambda r: r.created)
        since = self._unavailable_since
        return DeploymentStatus(
            namespace=self.namespace,
            name=self.name,
            revision=self.revision,
            replicas=spec.replicas,
            updated=len(updated),
            ready=sum(r.ready for r in updated),
            available=sum(r.available(spec.min_ready_seconds, now) for r in updated),
            total=len(self.replicas),
            generation=self.generation,
            observed_generation=self.observed_generation,
            unavailable_since=None if since is None else wall_time(since, now),
            deadline_exceeded=False,
            replica_details=tuple(r.status(spec.min_ready_seconds, now) for r in everyone),
        )

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                self._reconcile()
            except Exception:  # keep supervising; the next change or tick retries
                log.exception("reconciling deployment %s/%s failed", self.namespace, self.name)
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation
                async with asyncio.timeout(self._next_check()):
                    await self._wake.wait()

    def _reconcile(self) -> None:
        self.observed_generation = self.generation
        now = time.monotonic()
        spec = self.deployment.spec
        views = [
            ReplicaView(
                r.id, r.template.revision, r.available(spec.min_ready_seconds, now), r.created
            )
            for r in self.replicas
        ]
        plan = plan_rollout(spec.replicas, self.revision, views)
        if plan.start or plan.stop:
            self._last_progress = now
        for replica in [r for r in self.replicas if r.id in plan.stop]:
            self._begin_stop(replica, self._context.settings.drain_seconds)
        for _ in range(plan.start):
            self._start_replica()
        self.status()  # records availability and whether the rollout is complete

    def _note_availability(self, now: float) -> None:
        """Track progress (new replicas becoming available) and minimum availability."""
        min_ready = self.deployment.spec.min_ready_seconds
        for replica in self.replicas:
            since = replica.ready_since
            current = replica.template.revision == self.revision
            if current and since is not None and now - since >= min_ready:
                # It became available at since + min_ready: that was progress, at that moment.
                self._last_progress = max(self._last_progress, since + min_ready)
        available = sum(r.available(min_ready, now) for r in self.replicas)
        if available >= self.deployment.spec.replicas:
            self._unavailable_since = None
        elif self._unavailable_since is None:
            self._unavailable_since = now

    def _next_check(self) -> float:
        """Seconds until a ready replica becomes available, at most MAX_SLEEP."""
        now, min_ready = time.monotonic(), self.deployment.spec.min_ready_seconds
        due = [
            r.ready_since + min_ready - now
            for r in self.replicas
            if r.ready_since is not None and r.ready_since + min_ready > now
        ]
        return max(0.0, min([MAX_SLEEP, *due]))

    def _start_replica(self) -> None:
        suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
        replica_id = f"{self.name}-{self.revision[:10]}-{suffix}"
        template = ReplicaTemplate(
            self.namespace, self.name, self.revision, self.deployment.spec.template
        )
        replica = Replica(replica_id, template, self._context, self._replica_changed)
        self.replicas.append(replica)
        replica.start()

    def _adopt(self, orphan: Orphan) -> None:
        record = orphan.record
        assert record.template is not None  # only adoptable records get here
        template = ReplicaTemplate(
            self.namespace,
            self.name,
            record.revision,
            PodTemplate.model_validate(record.template),
        )
        replica = Replica.adopt(orphan, template, self._context, self._replica_changed)
        self.replicas.append(replica)
        replica.start()

    def _begin_stop(self, replica: Replica, drain: float) -> None:
        self.replicas.remove(replica)
        self.terminating.append(replica)
        task = asyncio.create_task(self._stop(replica, drain), name=f"stop {replica.id}")
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)
        self._replica_changed()

    async def _stop(self, replica: Replica, drain: float) -> None:
        try:
            await replica.stop(drain=drain)
        except Exception:  # nobody awaits this task: say it here
            log.exception("stopping replica %s failed", replica.id)
        finally:
            self.terminating.remove(replica)
            self._note_stop(replica)
            self._replica_changed()

    def _note_stop(self, replica: Replica) -> None:
        template = replica.template
        self._stopped.pop(template.revision, None)  # re-inserted last: the newest stop
        self._stopped[template.revision] = (time.monotonic(), template.labels)
        while len(self._stopped) > STOPS_KEPT:
            del self._stopped[next(iter(self._stopped))]

    def _replica_changed(self) -> None:
        self._wake.set()
        self._on_change()


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether a Service with `selector` selects a pod with `labels` (an empty one: none)."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())
