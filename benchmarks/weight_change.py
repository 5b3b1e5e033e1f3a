"""How fast a canary weight change reaches traffic in local mode, from the decision.

Run:  .venv/bin/python benchmarks/weight_change.py [--rounds 40] [--services 0]

A real `LocalRuntime` (Envoy, two demo-app Deployments blue and green). Each round flips
all traffic from one to the other, in two ways, each on its own host:
- "apply": a user's VirtualService is applied again with the new weights
  (`ObjectBook.apply`, as `coalmine apply` does), then the data plane is synced;
- "router": the engine's Router port is called (`set_routes` of the runtime's router,
  as a canary's tick does), which writes the canary's VirtualService and returns once
  Envoy serves it.
A thread sends requests back to back on one keep-alive connection and records which
version answered. Prints, per way: decision -> first request sent that reached the new
side ("live"), decision -> the call returned (Envoy acknowledged), how much of that
was spent outside the data plane's `apply` (coalmine's own hops: router, store,
translation), how many objects were validated into models per change, and how many
`envoy --mode validate` runs the changes cost (weight-only changes reuse the validation
of their route shape). `--services N` adds N other Services, each with its own
VirtualService, so that the store holds as many routing objects as a busier runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.common import Model
from coalmine.engine.observations import Routes
from coalmine.local.processes import ProcessSettings
from coalmine.local.runtime import LocalRuntime, RuntimeSettings

HOST = "go-demo-7.example"
ROUTER_HOST = "router.example"

DEPLOYMENTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: COLOR, namespace: go-demo-7}
spec:
  replicas: 1
  selector: {matchLabels: {app: go-demo-7, release: COLOR}}
  template:
    metadata: {labels: {app: go-demo-7, release: COLOR}}
    spec:
      containers:
        - {name: app, command: [coalmine, demo-app], env: [{name: VERSION, value: COLOR}],
           ports: [{containerPort: 8080}]}
"""

ROUTING = """
apiVersion: v1
kind: Service
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  selector: {app: go-demo-7}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [go-demo-7.example]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  host: go-demo-7
  subsets:
    - {name: blue, labels: {release: blue}}
    - {name: green, labels: {release: green}}
"""

ROUTER_SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: router-demo-primary, namespace: go-demo-7}
spec:
  selector: {app: go-demo-7, release: blue}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: router-demo-canary, namespace: go-demo-7}
spec:
  selector: {app: go-demo-7, release: green}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: router-demo, namespace: go-demo-7}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [router.example]}]
"""

CANARY = """
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {name: router-demo, namespace: go-demo-7}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: green}
  service: {name: router-demo, port: 80, targetPort: 8080, hosts: [router.example],
            gateways: [router-demo]}
  analysis: {interval: 1s, threshold: 1, stepWeight: 50, maxWeight: 50}
"""
"""Never applied: only its router is called, as the engine would."""

SPLIT = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  hosts: [go-demo-7.example]
  gateways: [go-demo-7]
  http:
    - route:
        - {destination: {host: go-demo-7, subset: blue}, weight: BLUE}
        - {destination: {host: go-demo-7, subset: green}, weight: GREEN}
"""


def split(blue: int) -> str:
    return SPLIT.replace("BLUE", str(blue)).replace("GREEN", str(100 - blue))


class Poller(threading.Thread):
    """Requests back to back on one keep-alive connection, in its own thread."""

    def __init__(self, port: int, host: str) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.host = host
        self.seen: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.done.is_set():
            sent = time.perf_counter()
            connection.request("GET", "/version", headers={"Host": self.host})
            body = connection.getresponse().read().decode()
            self.seen.append((sent, "blue" if "blue" in body else "green"))
        connection.close()


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms, max {max(values):.1f} ms"
        f" ({len(values)} changes)"
    )


OTHER = """
apiVersion: v1
kind: Service
metadata: {name: other-INDEX, namespace: others}
spec:
  selector: {app: other-INDEX}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: other-INDEX, namespace: others}
spec:
  hosts: [other-INDEX]
  http: [{route: [{destination: {host: other-INDEX}}], timeout: 5s}]
"""


def others(count: int) -> list[str]:
    return [OTHER.replace("INDEX", str(index)) for index in range(count)]


async def main(rounds: int, services: int) -> None:
    with tempfile.TemporaryDirectory(prefix="coalmine-weights-") as state:
        settings = RuntimeSettings(
            state_dir=Path(state),
            gateway_port=0,
            min_interval=timedelta(0),
            process_settings=ProcessSettings(probe_period_seconds=0.2),
        )
        runtime = LocalRuntime(settings)
        await runtime.start()
        try:
            text = "---".join(
                [DEPLOYMENTS.replace("COLOR", c) for c in ("blue", "green")]
                + [ROUTING, split(100), ROUTER_SERVICES, *others(services)]
            )
            await runtime.apply(text, "benchmark")
            version = runtime.processes.endpoints_version
            async with asyncio.timeout(60):
                while len(runtime.processes.endpoints("go-demo-7", {"app": "go-demo-7"})) < 2:
                    version = await runtime.processes.wait_endpoints_changed(version, 1.0)
            await runtime.sync_dataplane()
            counted = Counted(runtime)
            await measure(runtime, counted, rounds, "apply", HOST, by_apply(runtime))
            await measure(runtime, counted, rounds, "router", ROUTER_HOST, by_router(runtime))
        finally:
            await runtime.stop()


Change = Callable[[str], Awaitable[None]]
"""Sends all traffic to "blue" or "green" and returns once Envoy serves it."""


def by_apply(runtime: LocalRuntime) -> Change:
    async def change(target: str) -> None:
        runtime.book.apply(split(0 if target == "green" else 100), "benchmark")
        await runtime.sync_dataplane()

    return change


def by_router(runtime: LocalRuntime) -> Change:
    canary = runtime.book.parse(CANARY, "benchmark")[0]
    assert isinstance(canary, Canary)
    router = runtime.runner.ports.router

    async def change(target: str) -> None:
        await router.set_routes(canary, Routes(0, 100) if target == "green" else Routes(100, 0))

    return change


class Counted:
    """Counts objects validated into models (every `Model.model_validate` call) and the
    time spent in the data plane's `apply` (rendering, writing xDS, Envoy's answer)."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.validated = 0
        self.applying = 0.0
        validate = Model.model_validate.__func__  # type: ignore[attr-defined]
        apply = runtime.envoy.apply

        def counting(cls: type[Model], *args: Any, **kwargs: Any) -> Any:
            self.validated += 1
            return validate(cls, *args, **kwargs)

        async def timed(plane: Any) -> None:
            started = time.perf_counter()
            try:
                await apply(plane)
            finally:
                self.applying += time.perf_counter() - started

        Model.model_validate = classmethod(counting)  # type: ignore[method-assign,assignment]
        runtime.envoy.apply = timed  # type: ignore[method-assign]


async def measure(
    runtime: LocalRuntime, counted: Counted, rounds: int, way: str, host: str, change: Change
) -> None:
    await change("blue")
    poller = Poller(runtime.envoy.gateway_address[1], host)
    poller.start()
    await asyncio.sleep(0.5)
    live, acknowledged, own, validated, stale = [], [], [], [], 0
    validations = runtime.envoy.validations
    for round_ in range(rounds):
        target = "green" if round_ % 2 == 0 else "blue"
        await asyncio.sleep(0.1)
        before, applying = counted.validated, counted.applying
        decided = time.perf_counter()
        await change(target)
        acknowledged.append((time.perf_counter() - decided) * 1000)
        own.append(acknowledged[-1] - (counted.applying - applying) * 1000)
        validated.append(counted.validated - before)
        first_new = None
        for _ in range(100):  # the poller's answers arrive in its own thread
            await asyncio.sleep(0.02)
            after = [(sent, who) for sent, who in poller.seen if sent >= decided]
            first_new = next((sent for sent, who in after if who == target), None)
            if first_new is not None:
                break
        if first_new is None:
            raise SystemExit(f"{way}: no request reached {target} within 2 s of the change")
        live.append((first_new - decided) * 1000)
        stale += sum(1 for sent, who in after if sent > first_new and who != target)
    poller.done.set()
    await asyncio.to_thread(poller.join, 10)
    print(f"{way}: decision -> live (first request on the new split): {describe(live)}")
    print(f"{way}: decision -> call returned, acknowledged by Envoy: {describe(acknowledged)}")
    print(f"{way}: of which outside the data plane's apply(): {describe(own)}")
    print(f"{way}: objects validated into models per change: {statistics.median(validated):g}")
    print(
        f"{way}: envoy --mode validate runs for {rounds} weight changes:"
        f" {runtime.envoy.validations - validations};"
        f" requests after the first new one that still took the old split: {stale}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="weight changes to time")
    parser.add_argument("--services", type=int, default=0, help="other Services, each with a VS")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.services))
