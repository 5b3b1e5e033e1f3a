"""The reference workshop as data: five releases of go-demo-7 and the verdict each must get.

    0.0.1  becomes the primary
    0.0.2  promoted through 20, 40, 60 %
    0.0.3  shipped while traffic hits /demo/random-error: rolled back on the success rate
    0.0.4  answers with random delays up to 3 s: rolled back on the p99 duration limit
    0.0.5  a good release again: rolls forward

Each release is applied with its Canary, whose webhooks make the built-in load tester
send the traffic the analysis measures (to /demo/hello, or /demo/random-error for 0.0.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coalmine.api.canary import Phase

__all__ = [
    "NAMESPACE",
    "RELEASES",
    "Release",
    "canary_manifest",
    "load_seconds",
    "manifests",
    "workload_manifests",
]

NAMESPACE = "go-demo-7"
HOST = "go-demo-7.example"


@dataclass(frozen=True)
class Release:
    version: str
    story: str
    verdict: Phase
    """The phase the analysis of this release must end in."""
    path: str = "/demo/hello"
    """Where the load goes while it is analysed."""
    env: dict[str, str] = field(default_factory=dict)


RELEASES = (
    Release("0.0.1", "the first release becomes the primary", Phase.INITIALIZED),
    Release("0.0.2", "a good release, promoted step by step", Phase.SUCCEEDED),
    Release(
        "0.0.3",
        "shipped while traffic hits /demo/random-error (one request in five fails)",
        Phase.FAILED,
        path="/demo/random-error",
    ),
    Release(
        "0.0.4",
        "answers with random delays up to 3 s",
        Phase.FAILED,
        env={"DEMO_RANDOM_DELAY_MAX_MS": "3000"},
    ),
    Release("0.0.5", "a fixed release rolls forward", Phase.SUCCEEDED),
)


def load_seconds(interval_seconds: int) -> int:
    """How long each load task runs: the rollout hook starts a new one at each tick."""
    return 2 * interval_seconds


def manifests(release: Release, *, interval_seconds: int = 5) -> str:
    """Deployment, Service, Gateway and Canary for one release."""
    env = {"VERSION": release.version, **release.env}
    return (
        workload_manifests(env) + "---" + canary_manifest(analysis_yaml(release, interval_seconds))
    )


def workload_manifests(env: dict[str, str], *, replicas: int = 2) -> str:
    """go-demo-7's Deployment (with these environment variables), Service and Gateway."""
    env_yaml = "\n".join(
        f"            - {{name: {name}, value: {value!r}}}" for name, value in sorted(env.items())
    )
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: go-demo-7, namespace: {NAMESPACE}, labels: {{app: go-demo-7}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: go-demo-7}}}}
  template:
    metadata: {{labels: {{app: go-demo-7}}}}
    spec:
      containers:
        - name: go-demo-7
          command: [coalmine, demo-app]
          env:
{env_yaml}
          ports: [{{containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: "/demo/hello?health=true", port: 8080}}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: go-demo-7, namespace: {NAMESPACE}}}
spec:
  selector: {{app: go-demo-7}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {{name: go-demo-7, namespace: {NAMESPACE}}}
spec:
  servers: [{{port: {{number: 80, name: http, protocol: HTTP}}, hosts: [{HOST}]}}]
"""


def canary_manifest(analysis: str) -> str:
    """go-demo-7's Canary with this `analysis` block (YAML indented by four spaces)."""
    return f"""
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {{name: go-demo-7, namespace: {NAMESPACE}}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: go-demo-7}}
  service: {{port: 80, targetPort: 8080, gateways: [go-demo-7], hosts: [{HOST}]}}
  progressDeadlineSeconds: 60
  analysis:
{analysis}
"""


def analysis_yaml(release: Release, interval_seconds: int) -> str:
    """The demo's analysis: 20 % steps to 60 %, success rate and p99 duration, its own load."""
    window = 2 * interval_seconds
    load = (
        f"{{type: load, url: 'http://{HOST}{release.path}', rps: '20', "
        f"duration: '{load_seconds(interval_seconds)}s'}}"
    )
    return f"""    interval: {interval_seconds}s
    threshold: 3
    stepWeight: 20
    maxWeight: 60
    metrics:
      - {{name: request-success-rate, interval: {window}s, thresholdRange: {{min: 99}}}}
      - {{name: request-duration, interval: {window}s, thresholdRange: {{max: 1000}}}}
    webhooks:
      - {{name: load, type: pre-rollout, url: 'http://loadtester.coalmine/', metadata: {load}}}
      - {{name: keep-load, type: rollout, url: 'http://loadtester.coalmine/', metadata: {load}}}"""
