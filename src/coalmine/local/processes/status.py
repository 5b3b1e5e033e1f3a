"""What the process layer reports: a Deployment's status, its replicas, its endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from coalmine.engine.observations import WorkloadState
from coalmine.local.processes.hostports import LOCALHOST, PortMap

__all__ = ["DeploymentStatus", "Endpoint", "ReplicaPhase", "ReplicaStatus", "wall_time"]


class ReplicaPhase(StrEnum):
    STARTING = "Starting"
    """Its process is being started."""
    RUNNING = "Running"
    """Its process runs (ready or not: see `ready`)."""
    BACK_OFF = "CrashLoopBackOff"
    """Its process exited; it waits before the next start."""
    TERMINATING = "Terminating"
    """Being stopped: out of the endpoints, SIGTERM then SIGKILL."""


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica (what Kubernetes calls a pod), for `coalmine get deployments`."""

    id: str
    revision: str
    phase: ReplicaPhase
    pid: int | None
    """The current process; None between a crash and the restart."""
    port: int | None
    """The host port of the first containerPort (the process's PORT)."""
    ready: bool
    available: bool
    """Ready for at least minReadySeconds."""
    restarts: int
    created: datetime
    since: datetime
    """When it entered its current phase."""
    last_exit: str = ""
    """How the previous process ended ("exited with code 3", "liveness probe failed: ...")."""


@dataclass(frozen=True)
class DeploymentStatus:
    namespace: str
    name: str
    revision: str
    """pod_template_hash of the current template."""
    replicas: int
    """Desired."""
    updated: int
    """Replicas of the current revision (not terminating)."""
    ready: int
    """Updated replicas that are ready."""
    available: int
    """Updated replicas that are available."""
    total: int
    """All replicas not terminating, old revisions included."""
    generation: int
    observed_generation: int
    unavailable_since: datetime | None
    deadline_exceeded: bool
    replica_details: tuple[ReplicaStatus, ...]
    """Every replica, terminating ones included, oldest first."""

    @property
    def complete(self) -> bool:
        """The rollout is done (Kubernetes' NewReplicaSetAvailable)."""
        return (
            self.observed_generation == self.generation
            and self.updated == self.total == self.available == self.replicas
        )

    def to_workload_state(self) -> WorkloadState:
        return WorkloadState(
            revision=self.revision,
            replicas=self.replicas,
            updated=self.updated,
            available=self.available,
            total=self.total,
            settled=self.observed_generation == self.generation,
            unavailable_since=self.unavailable_since,
            deadline_exceeded=self.deadline_exceeded,
        )


@dataclass(frozen=True)
class Endpoint:
    """A ready replica, as a Service sees it."""

    namespace: str
    deployment: str
    replica: str
    revision: str
    labels: Mapping[str, str]
    """The pod labels (the template's, plus pod-template-hash)."""
    ports: PortMap
    """Its container ports and the host ports they are mapped to."""
    host: str = LOCALHOST

    def host_port(self, target: int | str) -> int | None:
        """The host port for a Service targetPort (number or name); None if not declared."""
        return self.ports.host_port(target)


def wall_time(moment: float, now: float) -> datetime:
    """A moment of the monotonic clock (`time.monotonic()`, read as `now`) in UTC."""
    return datetime.now(UTC) - timedelta(seconds=now - moment)
