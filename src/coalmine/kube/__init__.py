"""Kubernetes mode: the operator (`coalmine controller`) and the adapters of the engine's ports.

Modules, one concept each (see docs/kubernetes.md):

    settings     ControllerSettings, built once from flags and environment
    connection   kr8s connection (kubeconfig, context, in-cluster) and kopf's login
    client       KubeClient: dicts over kr8s, coalmine's errors, timeouts
    resources    the resource types (apiVersion, plural)
    ownership    owner references, the managed-by label, the original-spec annotation
    objects      ObjectWriter: create-or-repair only the fields coalmine owns, restore
    revision     the revision of a pod template (server defaults ignored)
    deployments  WorkloadState from a Deployment, the -primary Deployment
    autoscaler   the primary's HPA
    workload     KubeWorkload (Workload port)
    istio        IstioRouter (Router port): Services, DestinationRules, VirtualService
    store        KubeCanaryStore (CanaryStore port): the status subresource
    events       KubeEvents (Notifier port): Kubernetes Events
    lookups      MetricTemplates, AlertProviders, Secrets from the cluster
    validation   a stored Canary to the model, or every problem
    revert       deletion with revertOnDeletion
    leader       LeaseElector: leader election with a Lease
    daemons      CanaryDaemons: the per-Canary loop
    handlers     the kopf registry and settings
    health       /healthz and /readyz on their own thread
    wiring       the ports, wired
    controller   Controller: start, run, close
    run          the program: logging, signals
"""

from coalmine.kube.client import KubeClient
from coalmine.kube.controller import Controller, LeadershipLost
from coalmine.kube.events import KubeEvents
from coalmine.kube.istio import IstioRouter
from coalmine.kube.leader import LeaseElector
from coalmine.kube.lookups import KubeAlertProviders, KubeCredentials, KubeSecrets, KubeTemplates
from coalmine.kube.settings import ControllerSettings
from coalmine.kube.store import KubeCanaryStore
from coalmine.kube.workload import KubeWorkload

__all__ = [
    "Controller",
    "ControllerSettings",
    "IstioRouter",
    "KubeAlertProviders",
    "KubeCanaryStore",
    "KubeClient",
    "KubeCredentials",
    "KubeEvents",
    "KubeSecrets",
    "KubeTemplates",
    "KubeWorkload",
    "LeadershipLost",
    "LeaseElector",
]
