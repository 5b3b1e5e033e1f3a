"""The manual canary on the local runtime: `coalmine manual init, split, finish`, with the
share of traffic each release gets through the real Envoy gateway measured at each step."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest
import yaml

from coalmine.local.runtime import LocalRuntime
from tests.fixtures.cli import coalmine
from tests.fixtures.local import NAMESPACE, wait_until

pytestmark = pytest.mark.slow

HOST = "go-demo-7.example"
REQUESTS = 1500
TOLERANCE = 5
"""Percentage points: four standard deviations of a 1,500-request sample at worst."""


def release(name: str, label: str, version: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: go-demo-7, release: {label}}}}}
  template:
    metadata: {{labels: {{app: go-demo-7, release: {label}}}}}
    spec:
      containers:
        - name: app
          command: [coalmine, demo-app]
          env: [{{name: VERSION, value: "{version}"}}]
          ports: [{{containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: "/demo/hello?health=true", port: 8080}}}}
"""


SERVICE = f"""
apiVersion: v1
kind: Service
metadata: {{name: go-demo-7, namespace: {NAMESPACE}}}
spec:
  selector: {{app: go-demo-7}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


async def shares(runtime: LocalRuntime, host: str = HOST) -> Counter[str]:
    """Which release answered each of REQUESTS requests through the gateway for `host`."""
    seen: Counter[str] = Counter()
    queue = iter(range(REQUESTS))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def worker() -> None:
            for _ in queue:
                url = runtime.gateway_url + "/version"
                async with http.get(url, headers={"Host": host}) as response:
                    text = await response.text()
                    assert response.status == 200, text
                    seen[text.split(";")[0].removeprefix("Version: ")] += 1

        await asyncio.gather(*(worker() for _ in range(16)))
    return seen


def canary_percent(seen: Counter[str]) -> float:
    return 100 * seen["0.0.2"] / sum(seen.values())


async def test_the_manual_canary_step_by_step(local_runtime: LocalRuntime) -> None:
    manifests = "---".join(
        [SERVICE, release("primary", "primary", "0.0.1"), release("canary", "canary", "0.0.2")]
    )
    await local_runtime.apply(manifests, "test")
    await wait_until(
        lambda: all(
            local_runtime.processes.status(NAMESPACE, n).available == 1
            for n in ("primary", "canary")
        ),
        "both releases ready",
    )
    dry = await coalmine(local_runtime, "manual", "init", "go-demo-7", "-n", NAMESPACE, "--dry-run")
    assert dry.exit_code == 0, dry.output
    kinds = [d["kind"] for d in yaml.safe_load_all(dry.stdout) if d]
    assert kinds == ["Gateway", "DestinationRule", "VirtualService"]
    assert local_runtime.store.get("VirtualService", NAMESPACE, "go-demo-7") is None

    init = await coalmine(
        local_runtime, "manual", "init", "go-demo-7", "-n", NAMESPACE, "--host", HOST
    )
    assert init.exit_code == 0, init.output
    assert "# virtualservice/go-demo-7 created" in init.output
    assert await shares(local_runtime) == Counter({"0.0.1": REQUESTS})

    for weight in (20, 40, 60):
        step = await coalmine(
            local_runtime, "manual", "split", "go-demo-7", "-n", NAMESPACE, "--canary", str(weight)
        )
        assert step.exit_code == 0, step.output
        printed = [d for d in yaml.safe_load_all(step.stdout) if d]
        route = printed[0]["spec"]["http"][0]["route"]
        assert [d["weight"] for d in route] == [100 - weight, weight]
        seen = await shares(local_runtime)
        assert abs(canary_percent(seen) - weight) <= TOLERANCE, (weight, seen)

    finished = await coalmine(local_runtime, "manual", "finish", "go-demo-7", "-n", NAMESPACE)
    assert finished.exit_code == 0, finished.output
    assert "# deployment/primary rolled out" in finished.output
    assert await shares(local_runtime) == Counter({"0.0.2": REQUESTS})
    primary = local_runtime.store.get("Deployment", NAMESPACE, "primary")
    canary = local_runtime.store.get("Deployment", NAMESPACE, "canary")
    assert primary is not None and canary is not None
    template = primary.manifest["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "go-demo-7", "release": "primary"}
    assert template["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "0.0.2"}]
    assert canary.manifest["spec"]["replicas"] == 0
    await wait_until(
        lambda: local_runtime.processes.status(NAMESPACE, "canary").replicas == 0,
        "the canary scaled to zero",
    )


async def releases_ready(runtime: LocalRuntime) -> None:
    manifests = "---".join(
        [SERVICE, release("primary", "primary", "0.0.1"), release("canary", "canary", "0.0.2")]
    )
    await runtime.apply(manifests, "test")
    await wait_until(
        lambda: all(
            runtime.processes.status(NAMESPACE, n).available == 1 for n in ("primary", "canary")
        ),
        "both releases ready",
    )


async def test_the_manual_canary_on_the_gateway_api(local_runtime: LocalRuntime) -> None:
    await releases_ready(local_runtime)
    init = await coalmine(
        local_runtime,
        *("manual", "init", "go-demo-7", "-n", NAMESPACE, "--host", HOST),
        *("--provider", "gatewayapi"),
    )
    assert init.exit_code == 0, init.output
    assert "# httproute/go-demo-7 created" in init.output
    assert local_runtime.store.get("VirtualService", NAMESPACE, "go-demo-7") is None
    assert await shares(local_runtime) == Counter({"0.0.1": REQUESTS})

    step = await coalmine(
        local_runtime, "manual", "split", "go-demo-7", "-n", NAMESPACE, "--canary", "30"
    )
    assert step.exit_code == 0, step.output
    [route] = [d for d in yaml.safe_load_all(step.stdout) if d]
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [70, 30]
    seen = await shares(local_runtime)
    assert abs(canary_percent(seen) - 30) <= TOLERANCE, seen

    finished = await coalmine(local_runtime, "manual", "finish", "go-demo-7", "-n", NAMESPACE)
    assert finished.exit_code == 0, finished.output
    assert await shares(local_runtime) == Counter({"0.0.2": REQUESTS})


async def test_the_manual_canary_on_kubernetes_services(local_runtime: LocalRuntime) -> None:
    """Blue/green by the Service's selector: all of the traffic moves at once."""
    await releases_ready(local_runtime)
    args = ("-n", NAMESPACE, "--provider", "kubernetes")
    init = await coalmine(local_runtime, "manual", "init", "go-demo-7", *args)
    assert init.exit_code == 0, init.output
    assert await shares(local_runtime, host="go-demo-7.go-demo-7") == Counter({"0.0.1": REQUESTS})

    share = await coalmine(local_runtime, "manual", "split", "go-demo-7", *args, "--canary", "50")
    assert share.exit_code == 1
    assert "provider kubernetes has no weights" in str(share.exception)
    switched = await coalmine(
        local_runtime, "manual", "split", "go-demo-7", *args, "--canary", "100"
    )
    assert switched.exit_code == 0, switched.output
    assert await shares(local_runtime, host="go-demo-7.go-demo-7") == Counter({"0.0.2": REQUESTS})

    back = await coalmine(local_runtime, "manual", "rollback", "go-demo-7", "-n", NAMESPACE)
    assert back.exit_code == 0, back.output
    assert await shares(local_runtime, host="go-demo-7.go-demo-7") == Counter({"0.0.1": REQUESTS})
