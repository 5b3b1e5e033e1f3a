"""Deployments run as supervised local processes: the workload layer of `coalmine up`.

Each replica of an apps/v1 Deployment is one local process on a free 127.0.0.1 port,
probed, restarted with back-off, and rolled one by one to a new template. See
docs/processes.md for how it compares with Kubernetes.
"""

from coalmine.local.processes.hostports import PortAllocator, PortMap
from coalmine.local.processes.leftovers import (
    MARKER_ENV,
    PidFiles,
    ProcessRecord,
    kill_leftovers,
)
from coalmine.local.processes.manager import LocalDeployments
from coalmine.local.processes.settings import ProcessSettings
from coalmine.local.processes.status import (
    DeploymentStatus,
    Endpoint,
    ReplicaPhase,
    ReplicaStatus,
)

__all__ = [
    "MARKER_ENV",
    "DeploymentStatus",
    "Endpoint",
    "LocalDeployments",
    "PidFiles",
    "PortAllocator",
    "PortMap",
    "ProcessRecord",
    "ProcessSettings",
    "ReplicaPhase",
    "ReplicaStatus",
    "kill_leftovers",
]
