"""Kubernetes mode, in three packages by job (see docs/architecture.md, "Layers"):

    runtime    the operator's life: `coalmine controller` (kopf, leader election, shards,
               the per-Canary daemons, settings, health, wiring the ports)
    adapters   the engine's ports in Kubernetes, over kr8s: the client and its watch
               cache, the Workload, the status store, Events, deletion (revert, disown),
               and what the Kubernetes routers write through (client, objects, ownership)
    install    the install artefacts: CRDs generated from the models, RBAC, the
               controller's manifests, the deploy/ files and `coalmine install`'s apply

The runtime imports the adapters; neither the adapters nor the install artefacts import
the runtime, and the two do not import each other (import-linter contracts in
pyproject.toml). Nothing is imported here or in the three packages' `__init__`, so that
`coalmine install` loads neither kopf nor kr8s: import from the modules. One concept
each (see docs/kubernetes.md and docs/install.md).
"""
