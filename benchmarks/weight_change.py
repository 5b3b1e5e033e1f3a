"""How fast a canary weight change reaches traffic in local mode, from the decision.

Run:  .venv/bin/python benchmarks/weight_change.py [--rounds 40]

A real `LocalRuntime` (Envoy, two demo-app Deployments blue and green behind one
VirtualService). Each round flips all traffic from one to the other the way the engine's
router does it: the new VirtualService is written to the store (the decision), then the
data plane is synced. A thread sends requests back to back on one keep-alive connection
and records which version answered. Prints, per change: decision -> first request sent
that reached the new side ("live"), decision -> apply() returned (Envoy acknowledged),
and how many `envoy --mode validate` runs the changes cost (weight-only changes reuse the
validation of their route shape).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from coalmine.local.processes import ProcessSettings
from coalmine.local.runtime import LocalRuntime, RuntimeSettings

HOST = "go-demo-7.example"

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

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.seen: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.done.is_set():
            sent = time.perf_counter()
            connection.request("GET", "/version", headers={"Host": HOST})
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


async def main(rounds: int) -> None:
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
                [DEPLOYMENTS.replace("COLOR", c) for c in ("blue", "green")] + [ROUTING, split(100)]
            )
            await runtime.apply(text, "benchmark")
            version = runtime.processes.endpoints_version
            async with asyncio.timeout(60):
                while len(runtime.processes.endpoints("go-demo-7", {"app": "go-demo-7"})) < 2:
                    version = await runtime.processes.wait_endpoints_changed(version, 1.0)
            await runtime.sync_dataplane()
            await measure(runtime, rounds)
        finally:
            await runtime.stop()


async def measure(runtime: LocalRuntime, rounds: int) -> None:
    poller = Poller(runtime.envoy.gateway_address[1])
    poller.start()
    await asyncio.sleep(0.5)
    live, acknowledged, stale = [], [], 0
    validations = runtime.envoy.validations
    for round_ in range(rounds):
        target = "green" if round_ % 2 == 0 else "blue"
        await asyncio.sleep(0.1)
        decided = time.perf_counter()
        runtime.book.apply(split(0 if target == "green" else 100), "benchmark")
        await runtime.sync_dataplane()
        acknowledged.append((time.perf_counter() - decided) * 1000)
        first_new = None
        for _ in range(100):  # the poller's answers arrive in its own thread
            await asyncio.sleep(0.02)
            after = [(sent, who) for sent, who in poller.seen if sent >= decided]
            first_new = next((sent for sent, who in after if who == target), None)
            if first_new is not None:
                break
        if first_new is None:
            raise SystemExit(f"no request reached {target} within 2 s of the change")
        live.append((first_new - decided) * 1000)
        stale += sum(1 for sent, who in after if sent > first_new and who != target)
    poller.done.set()
    await asyncio.to_thread(poller.join, 10)
    print(f"decision -> live (first request on the new split): {describe(live)}")
    print(f"decision -> apply() acknowledged by Envoy: {describe(acknowledged)}")
    print(
        f"envoy --mode validate runs for {rounds} weight changes:"
        f" {runtime.envoy.validations - validations};"
        f" requests after the first new one that still took the old split: {stale}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="weight changes to time")
    asyncio.run(main(parser.parse_args().rounds))
