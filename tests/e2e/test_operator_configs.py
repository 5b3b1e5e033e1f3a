"""Config tracking through the real operator: a change of a ConfigMap alone (the Deployment
untouched) starts an analysis; the primary's `-primary` copy takes the new content only
when the canary is promoted, and keeps the old one when it is rolled back. A tracked
Secret's data appears in no log, Event or status.

Against the API emulator, and a real cluster when COALMINE_TEST_KUBECONFIG is set.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import CANARIES, CONFIG_MAPS, DEPLOYMENTS, SECRETS
from tests.fixtures.operator import MetricsStandIn, canary, deployment
from tests.fixtures.timeline import following, virtual_service_of
from tests.fixtures.world import Operator, World, eventually_async

PASSWORD = "correct-horse-battery-staple"


def settings(greeting: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "", "labels": {"team": "web"}},
        "data": {"greeting": greeting},
    }


DB_SECRET: Obj = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": ""},
    "type": "Opaque",
    "data": {"password": base64.b64encode(PASSWORD.encode()).decode()},
}


def reading_configs() -> Obj:
    """podinfo with the ConfigMap as env and a volume, and the Secret as env."""
    target = deployment()
    spec = target["spec"]["template"]["spec"]
    spec["volumes"] = [{"name": "settings", "configMap": {"name": "settings"}}]
    container = spec["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    container["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    container["volumeMounts"] = [{"name": "settings", "mountPath": "/etc/settings"}]
    return target


async def initialized_with_configs(world: World) -> Obj:
    await world.create(settings("hello"))
    await world.create(DB_SECRET)
    await world.create(reading_configs())
    await world.create(canary())
    return await world.wait_phase("Initialized")


async def copy_greeting(world: World) -> str:
    copied = await world.must_get(CONFIG_MAPS, "settings-primary")
    return str(copied["data"]["greeting"])


async def weight_is(world: World, weight: int) -> bool:
    found = await world.get(CANARIES, "podinfo")
    return bool(found) and ((found or {}).get("status") or {}).get("canaryWeight") == weight


async def assert_primary_reads_its_copies(world: World) -> None:
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    spec = primary["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert spec["volumes"] == [{"name": "settings", "configMap": {"name": "settings-primary"}}]
    assert container["envFrom"] == [{"configMapRef": {"name": "settings-primary"}}]
    key_ref = container["env"][0]["valueFrom"]["secretKeyRef"]
    assert key_ref == {"name": "db-primary", "key": "password"}


async def assert_secret_never_shown(world: World, caplog: pytest.LogCaptureFixture) -> None:
    shown = json.dumps(await world.events()) + json.dumps(await world.get(CANARIES, "podinfo"))
    shown += caplog.text
    for form in (PASSWORD, DB_SECRET["data"]["password"]):
        assert form not in shown


async def test_a_config_map_change_alone_is_analysed_and_promoted(
    world: World, operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    initialized = await initialized_with_configs(world)
    await assert_primary_reads_its_copies(world)
    assert await copy_greeting(world) == "hello"
    copied_secret = await world.must_get(SECRETS, "db-primary")
    assert copied_secret["data"] == DB_SECRET["data"]
    target_before = (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["template"]

    async with following(world, virtual_service_of) as timeline:
        await world.patch(CONFIG_MAPS, "settings", {"data": {"greeting": "bonjour"}})
        await eventually_async(lambda: weight_is(world, 40))
        assert await copy_greeting(world) == "hello"  # the primary still reads the old one
        succeeded = await world.wait_phase("Succeeded")

    assert timeline["weights"] == [0, 20, 40, 60, 0]
    assert timeline["phases"] == [
        "Initialized", "Progressing", "Promoting", "Finalising", "Succeeded",
    ]  # fmt: skip
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["template"] == target_before
    assert await copy_greeting(world) == "bonjour"
    await assert_primary_reads_its_copies(world)
    status, before = succeeded["status"], initialized["status"]
    assert status["lastPromotedSpec"] == status["lastAppliedSpec"] != before["lastAppliedSpec"]
    await assert_secret_never_shown(world, caplog)


async def test_a_config_map_change_that_fails_its_checks_leaves_the_primarys_copy(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    await initialized_with_configs(world)

    async with following(world, virtual_service_of) as timeline:
        await world.patch(CONFIG_MAPS, "settings", {"data": {"greeting": "bonjour"}})
        await eventually_async(lambda: weight_is(world, 20))
        metrics_stand_in.success_rate = 80.0
        failed = await world.wait_phase("Failed")

    assert timeline["weights"] == [0, 20, 0]
    assert failed["status"]["failedChecks"] == 2
    assert await copy_greeting(world) == "hello"
    await assert_primary_reads_its_copies(world)
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
