"""`coalmine doctor`: what a canary needs, checked one thing at a time, each with its fix.

Nothing is imported here; the checks of each mode load only what they use:

    checks  Check (one line of the report) and Report (all of them)
    local   the local runtime: coalmine up, Envoy, the state directory, prometheus
    kube    a cluster: reachable, Istio, sidecar injection, Prometheus, the controller
"""
