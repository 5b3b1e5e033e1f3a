"""Kubernetes mode: the operator (`coalmine controller`), the adapters of the engine's
ports, and installing coalmine (CRDs, RBAC, manifests: `coalmine install`).

Nothing is imported here, so that `coalmine install` does not load kopf and kr8s; import
from the modules. One concept each (see docs/kubernetes.md and docs/install.md):

The operator:

    controller   Controller: start, run, close (the public entry point)
    run          the program: logging, signals, exit code
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
    store        KubeCanaryStore (CanaryStore port): the status subresource
    events       KubeEvents (Notifier port): Kubernetes Events
    lookups      MetricTemplates, AlertProviders, Secrets from the cluster
    validation   a stored Canary to the model, or every problem
    revert       deletion with revertOnDeletion
    disown       deletion without it: what serves stays, as the user's
    leader       LeaseElector: leader election with a Lease
    daemons      CanaryDaemons: kopf's daemons around the engine's per-Canary loop
    handlers     the kopf registry and settings
    health       /healthz and /readyz on their own thread
    wiring       the ports, wired; ROUTERS, the routers by provider (coalmine.routers)

Installing:

    crds, schema, refinements   the CRDs generated from the models
    rbac, manifests             RBAC and the controller's manifests
    deploy_files, apply         deploy/ files, and applying them to a cluster
"""
