"""The operator's life (`coalmine controller`): it imports the adapters, never the reverse.

    controller   Controller: start, run, close (the public entry point)
    run          the program: logging, signals, exit code
    settings     ControllerSettings, built once from flags and environment
    connection   kr8s connection (kubeconfig, context, in-cluster) and kopf's login
    wiring       the ports, wired; ROUTERS, the routers by provider (coalmine.routers)
    validation   a stored Canary to the model, or every problem (admission)
    daemons      CanaryDaemons: the per-Canary loop
    handlers     the kopf registry and settings
    leader       LeaseElector: leader election with a Lease
    shards       ShardLeadership: Canaries split by a hash, one Lease per shard
    spread       each Canary's tick offset within its interval
    tick_timing  a tick's own duration, metric queries left out
    garbage      start-up frozen out of the garbage collector, its pauses measured
    health       /healthz and /readyz on their own thread

Nothing is imported here: import from the modules.
"""
