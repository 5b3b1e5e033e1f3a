"""The objects each strategy applies: the same go-demo-7, shipped three ways.

Every strategy runs go-demo-7 with five replicas that take five seconds to count as
available (minReadySeconds), behind a Gateway, on /demo/random-error. The good release
0.0.1 never fails there; the faulty 0.0.2 fails half of its requests.

- big-bang: one Deployment per release; the Service's selector moves from one to the
  other in one apply, so every request goes to 0.0.2 at once.
- rolling: one Deployment whose template changes; the local runtime replaces its
  replicas one by one (maxSurge 1, maxUnavailable 0), as Kubernetes does.
- canary: the same Deployment as rolling, with a Canary (20 % steps, success rate and
  p99 duration checked every interval, three failed checks roll back).
"""

from __future__ import annotations

from dataclasses import dataclass

from coalmine.demo.strategies.options import Strategy

__all__ = [
    "APP",
    "BAD",
    "ERROR_RATE",
    "GOOD",
    "MIN_READY_SECONDS",
    "PATH",
    "REPLICAS",
    "Release",
    "canary",
    "deployment",
    "entrance",
    "host",
    "objects",
    "service",
]

APP = "go-demo-7"
PATH = "/demo/random-error"
REPLICAS = 5
MIN_READY_SECONDS = 5
"""Paces the rolling update: each new replica serves as soon as it is ready, and the
next old one goes only five seconds later."""
ERROR_RATE = 0.5


@dataclass(frozen=True)
class Release:
    version: str
    error_rate: float

    @property
    def slug(self) -> str:
        """The version as a name part: 0.0.1 -> 0-0-1."""
        return self.version.replace(".", "-")


GOOD = Release("0.0.1", 0.0)
BAD = Release("0.0.2", ERROR_RATE)


def host(namespace: str) -> str:
    """The name users reach the service by, through the gateway."""
    return f"{APP}.{namespace}.example"


def deployment(namespace: str, release: Release, *, per_release: bool = False) -> str:
    """go-demo-7's Deployment running `release`, its pods labelled app and version.

    `per_release`: named and selecting by release too (go-demo-7-0-0-1), so that two
    releases run side by side as two Deployments (big-bang).
    """
    name, selector = APP, f"{{app: {APP}}}"
    if per_release:
        name, selector = f"{APP}-{release.slug}", f"{{app: {APP}, version: '{release.version}'}}"
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {APP}}}}}
spec:
  replicas: {REPLICAS}
  minReadySeconds: {MIN_READY_SECONDS}
  selector: {{matchLabels: {selector}}}
  template:
    metadata: {{labels: {{app: {APP}, version: '{release.version}'}}}}
    spec:
      containers:
        - name: {APP}
          command: [coalmine, demo-app]
          env:
            - {{name: VERSION, value: '{release.version}'}}
            - {{name: DEMO_ERROR_RATE, value: '{release.error_rate:g}'}}
          ports: [{{containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: "/demo/hello?health=true", port: 8080}}
            periodSeconds: 1
"""


def service(namespace: str, *, version: str | None = None) -> str:
    """The Service users' traffic goes to; with `version`, it selects only that release."""
    selector = f"{{app: {APP}}}" if version is None else f"{{app: {APP}, version: '{version}'}}"
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {APP}, namespace: {namespace}}}
spec:
  selector: {selector}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
"""


def entrance(namespace: str, *, route: bool = True) -> str:
    """The Gateway, and (unless a Canary writes its own) a VirtualService from the
    gateway's host to the Service: the way in, as in Istio."""
    gateway = f"""
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {{name: {APP}, namespace: {namespace}}}
spec:
  servers: [{{port: {{number: 80, name: http, protocol: HTTP}}, hosts: ['{host(namespace)}']}}]
"""
    if not route:
        return gateway
    return (
        gateway
        + f"""---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: {APP}, namespace: {namespace}}}
spec:
  hosts: ['{host(namespace)}']
  gateways: [{APP}]
  http: [{{route: [{{destination: {{host: {APP}, port: {{number: 80}}}}}}]}}]
"""
    )


def canary(namespace: str, interval: int) -> str:
    """The Canary with the demo's usual analysis, checked every `interval` seconds."""
    window = 2 * interval
    return f"""
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {{name: {APP}, namespace: {namespace}}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {APP}}}
  service: {{port: 80, targetPort: 8080, gateways: [{APP}], hosts: ['{host(namespace)}']}}
  progressDeadlineSeconds: 60
  analysis:
    interval: {interval}s
    threshold: 3
    stepWeight: 20
    maxWeight: 60
    metrics:
      - {{name: request-success-rate, interval: {window}s, thresholdRange: {{min: 99}}}}
      - {{name: request-duration, interval: {window}s, thresholdRange: {{max: 1000}}}}
"""


def objects(strategy: Strategy, interval: int) -> str:
    """Everything a strategy applies before shipping, in its own namespace."""
    ns = strategy.value
    if strategy == Strategy.BIG_BANG:
        parts = [
            deployment(ns, GOOD, per_release=True),
            deployment(ns, BAD, per_release=True),
            service(ns, version=GOOD.version),
            entrance(ns),
        ]
    elif strategy == Strategy.ROLLING:
        parts = [deployment(ns, GOOD), service(ns), entrance(ns)]
    else:
        parts = [deployment(ns, GOOD), entrance(ns, route=False), canary(ns, interval)]
    return "---".join(parts)
