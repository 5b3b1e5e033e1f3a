"""The engine's ports in Kubernetes, over kr8s. No module here imports the runtime.

    client       KubeClient: dicts over kr8s, coalmine's errors, timeouts
    cache        WatchCache: what a tick reads, kept in memory by list+watch
    resources    the resource types (apiVersion, plural)
    ownership    owner references, the managed-by label, the original-spec annotation
    objects      ObjectWriter: create-or-repair only the fields coalmine owns, restore
    revision     the revision of a pod template (server defaults ignored)
    deployments  WorkloadState from a Deployment, the -primary Deployment
    autoscaler   the primary's HPA
    configs      ConfigTracker: the ConfigMaps and Secrets the target reads
    workload     KubeWorkload (Workload port)
    store        KubeCanaryStore (CanaryStore port): the status subresource
    events       KubeEvents (Notifier port): Kubernetes Events
    lookups      MetricTemplates, AlertProviders, Secrets from the cluster
    revert       deletion with revertOnDeletion
    disown       deletion without it: what serves stays, as the user's

The Kubernetes routers (coalmine.routers) write through client, objects, ownership and
resources, and the CLI's cluster target (coalmine.targets.kube) reads through them too:
that is why these live here and not in the runtime. Nothing is imported here.
"""
