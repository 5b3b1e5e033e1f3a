"""Where the pipeline commands act: the local runtime or a Kubernetes cluster.

Nothing is imported here, so that picking the local target never loads kr8s:

    base     the Target protocol and the read-only views (CanaryView, EventView, ...)
    select   the rule that picks the target once per command (flags, coalmine up, kubeconfig)
    local    LocalTarget: the local runtime's HTTP API
    kube     KubeTarget: kr8s, with the operator's revision, readiness and events
    patches  merge patches that send only what changes; manifests from stored objects
"""
