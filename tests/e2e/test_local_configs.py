"""Config tracking in local mode (real Envoy, real processes, the demo app).

The demo app reads VERSION and DEMO_ERROR_RATE from its environment; here both come
from a ConfigMap through `envFrom`. A change of the ConfigMap alone is a new revision:
it starts an analysis, the canary's replicas read the new content, and the primary
reads its `-primary` copy, which changes only at promotion.
"""

from __future__ import annotations

import pytest

from coalmine.api.canary import Phase
from coalmine.demo.scenario import canary_manifest, workload_manifests
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import (
    DEFAULT_ANALYSIS,
    NAMESPACE,
    steady_load,
    until_served_by,
    wait_for_phase,
)

pytestmark = pytest.mark.slow

CONFIG = "go-demo-7-config"


def config_map(version: str, error_rate: str) -> str:
    return f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: {CONFIG}, namespace: {NAMESPACE}}}
data: {{VERSION: "{version}", DEMO_ERROR_RATE: "{error_rate}"}}
"""


def manifests(version: str, error_rate: str = "0") -> str:
    """The demo's workload with its environment from the ConfigMap, and its Canary."""
    workload = workload_manifests({"VERSION": "unused"}).replace(
        "env:\n            - {name: VERSION, value: 'unused'}",
        f"envFrom: [{{configMapRef: {{name: {CONFIG}}}}}]",
    )
    assert "envFrom" in workload
    return (
        config_map(version, error_rate)
        + "---"
        + workload
        + "---"
        + canary_manifest(DEFAULT_ANALYSIS)
    )


def primary_copy(runtime: LocalRuntime) -> dict[str, str]:
    stored = runtime.store.get("ConfigMap", NAMESPACE, f"{CONFIG}-primary")
    assert stored is not None and stored.owner == "Canary/go-demo-7"
    return dict(stored.manifest["data"])


def primary_reads(runtime: LocalRuntime) -> list[str]:
    """The ConfigMaps the primary's container names."""
    stored = runtime.store.get("Deployment", NAMESPACE, "go-demo-7-primary")
    assert stored is not None
    container = stored.manifest["spec"]["template"]["spec"]["containers"][0]
    return [source["configMapRef"]["name"] for source in container["envFrom"]]


async def initialized(runtime: LocalRuntime) -> None:
    await runtime.apply(manifests("0.0.1"), "test")
    await wait_for_phase(runtime, Phase.INITIALIZED)
    assert primary_reads(runtime) == [f"{CONFIG}-primary"]
    assert primary_copy(runtime)["VERSION"] == "0.0.1"
    await until_served_by(runtime, "0.0.1")


async def test_a_config_map_change_alone_is_analysed_and_promoted(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    revision = local_runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert revision is not None and revision.status is not None
    before = revision.status["lastAppliedSpec"]
    async with steady_load(local_runtime):
        await local_runtime.apply(config_map("0.0.2", "0"), "test")
        await wait_for_phase(local_runtime, Phase.PROGRESSING)
        assert primary_copy(local_runtime)["VERSION"] == "0.0.1"  # not before promotion
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=120)
    stored = local_runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert stored is not None and stored.status is not None
    assert stored.status["lastAppliedSpec"] != before
    assert primary_copy(local_runtime)["VERSION"] == "0.0.2"
    await until_served_by(local_runtime, "0.0.2")  # the primary's processes, restarted


async def test_a_rolled_back_config_change_leaves_the_primary_on_the_old_config(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime, "/demo/random-error", rate=50):
        await local_runtime.apply(config_map("0.0.2", "1"), "test")
        await wait_for_phase(local_runtime, Phase.PROGRESSING)
        await wait_for_phase(local_runtime, Phase.FAILED, within=120)
    assert primary_copy(local_runtime) == {"VERSION": "0.0.1", "DEMO_ERROR_RATE": "0"}
    await until_served_by(local_runtime, "0.0.1")
