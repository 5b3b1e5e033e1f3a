"""The real operator (`kube.runtime.controller.Controller`, kopf and kr8s) reconciling Canaries.

Each test runs against the API emulator, and against a real cluster when
COALMINE_TEST_KUBECONFIG is set (see tests/fixtures/world.py). Ticks are driven fast
with a 1 s analysis floor and 1 s intervals; every wait is on observable state with a
deadline, never on time.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.ownership import KEPT_FROM, ORIGINAL_SPEC
from coalmine.kube.adapters.resources import (
    CANARIES,
    DEPLOYMENTS,
    DESTINATION_RULES,
    FLAGGER_CANARIES,
    LEASES,
    SECRETS,
    SERVICES,
    VIRTUAL_SERVICES,
)
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.kube.runtime.handlers import FINALIZER
from coalmine.kube.runtime.settings import ScopeSettings
from coalmine.metrics.providers.prometheus import ONLINE_QUERY
from tests.fixtures.notify import Receiver
from tests.fixtures.operator import PRIMARY_YAML, MetricsStandIn, canary, deployment, shape
from tests.fixtures.telemetry import labels, parse
from tests.fixtures.telemetry import scrape as scrape_text
from tests.fixtures.timeline import following, released, virtual_service_of
from tests.fixtures.world import (
    NEW_IMAGE,
    OLD_IMAGE,
    Operator,
    StartOperator,
    World,
    eventually_async,
)
from tests.kube_emulator import KubeEmulator

ISTIO = "networking.istio.io/v1beta1"


# Helpers -------------------------------------------------------------------------------


async def messages(world: World) -> list[str]:
    return [e["message"] for e in await world.events()]


def expected(text: str, world: World, uid: str) -> Obj:
    loaded: Obj = yaml.safe_load(text.replace("NS", world.namespace).replace("UID", uid))
    return loaded


def assert_like(stored: Any, wanted: Any, *, exact: bool, where: str = "") -> None:
    """Equal (emulator); or, on a real cluster, equal wherever `wanted` says something
    (the API server adds defaults of its own to Deployments)."""
    if exact:
        assert stored == wanted, where
    elif isinstance(wanted, dict):
        assert isinstance(stored, dict), where
        for key, value in wanted.items():
            assert_like(stored.get(key), value, exact=False, where=f"{where}.{key}")
    elif isinstance(wanted, list):
        assert isinstance(stored, list) and len(stored) == len(wanted), where
        for n, (s, w) in enumerate(zip(stored, wanted, strict=True)):
            assert_like(s, w, exact=False, where=f"{where}[{n}]")
    else:
        assert stored == wanted, where


# Initialization ------------------------------------------------------------------------

SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: NAME
  namespace: NS
  labels: {app.kubernetes.io/managed-by: coalmine}
  ownerReferences:
  - {apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}
spec:
  type: ClusterIP
  selector: {app: SELECTOR}
  ports: [{name: http, port: 9898, targetPort: 9898, protocol: TCP}]
"""

DESTINATION_RULE = f"""
apiVersion: {ISTIO}
kind: DestinationRule
metadata:
  name: HOST
  namespace: NS
  labels: {{app.kubernetes.io/managed-by: coalmine}}
  ownerReferences:
  - {{apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}}
spec: {{host: HOST}}
"""

VIRTUAL_SERVICE = f"""
apiVersion: {ISTIO}
kind: VirtualService
metadata:
  name: podinfo
  namespace: NS
  labels: {{app.kubernetes.io/managed-by: coalmine}}
  ownerReferences:
  - {{apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}}
spec:
  hosts: [podinfo]
  gateways: [mesh]
  http:
  - route:
    - destination: {{host: podinfo-primary, port: {{number: 9898}}}}
      weight: 100
    - destination: {{host: podinfo-canary, port: {{number: 9898}}}}
      weight: 0
"""


async def test_initialization_creates_the_primary_and_routing_and_scales_the_target_down(
    world: World, operator: Operator
) -> None:
    podinfo = await world.initialized()

    uid = podinfo["metadata"]["uid"]
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert_like(shape(primary), expected(PRIMARY_YAML, world, uid), exact=world.exact)
    for name, selector in (
        ("podinfo", "podinfo-primary"),
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-canary", "podinfo"),
    ):
        text = SERVICE.replace("NAME", name).replace("SELECTOR", selector)
        stored = shape(await world.must_get(SERVICES, name))
        assert stored == expected(text, world, uid), name
    for host in ("podinfo-primary", "podinfo-canary"):
        text = DESTINATION_RULE.replace("HOST", host)
        stored = shape(await world.must_get(DESTINATION_RULES, host))
        assert stored == expected(text, world, uid), host
    vs = shape(await world.must_get(VIRTUAL_SERVICES, "podinfo"))
    assert vs == expected(VIRTUAL_SERVICE, world, uid)

    target = await world.must_get(DEPLOYMENTS, "podinfo")
    assert target["spec"]["replicas"] == 0
    revision = pod_template_revision(target["spec"]["template"])
    status = podinfo["status"]
    assert (status["canaryWeight"], status["failedChecks"]) == (0, 0)
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"] == revision
    assert status["conditions"][0]["reason"] == "Initialized"
    assert FINALIZER in podinfo["metadata"]["finalizers"]  # every Canary, see kube.runtime.handlers
    [done] = [e for e in await world.events() if e["message"].startswith("Initialization done!")]
    assert (done["type"], done["reason"], done["message"]) == (
        "Normal",
        "Synced",
        f"Initialization done! podinfo.{world.namespace}",
    )
    ours = await world.events()
    assert {e["involvedObject"]["kind"] for e in ours} == {"Canary"}
    others = [e for e in await world.events(component=None) if e not in ours]
    if world.rollouts is not None:  # the emulator plays the Deployment controller
        assert {(e["involvedObject"]["kind"], e["reason"]) for e in others} == {
            ("Deployment", "ScalingReplicaSet")
        }


# Promotion and rollback ----------------------------------------------------------------


async def test_a_new_image_is_shifted_20_40_60_and_promoted(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    timeline, succeeded = await released(world, virtual_service_of)

    assert timeline["weights"] == [0, 20, 40, 60, 0]
    assert timeline["phases"] == [
        "Initialized", "Progressing", "Promoting", "Finalising", "Succeeded",
    ]  # fmt: skip
    assert await world.image_of("podinfo-primary") == NEW_IMAGE
    target = await world.must_get(DEPLOYMENTS, "podinfo")
    assert target["spec"]["replicas"] == 0
    revision = pod_template_revision(target["spec"]["template"])
    assert succeeded["status"]["lastPromotedSpec"] == revision
    key = f"podinfo.{world.namespace}"
    await world.event_starting(f"Promotion completed! Scaling down {key}")
    said = await messages(world)
    assert said.count(f"Starting canary analysis for {key}, canary weight 20") == 1
    for weight in (40, 60):
        assert said.count(f"Advance {key} canary weight {weight}") == 1
    assert ONLINE_QUERY in metrics_stand_in.queries  # asked at initialization (Flagger's)
    asked = [q for q in metrics_stand_in.queries if q != ONLINE_QUERY]
    assert any(f'destination_workload_namespace="{world.namespace}"' in q for q in asked)
    assert all('destination_workload=~"podinfo"' in q for q in asked)
    scraped = await scrape(f"http://127.0.0.1:{operator.controller.metrics_port}")
    ours = labels(name="podinfo", namespace=world.namespace)
    assert scraped[("coalmine_canary_status", ours)] == 1
    verdict = labels(name="podinfo", namespace=world.namespace, deployment_strategy="canary",
                     analysis_status="completed")  # fmt: skip
    assert scraped[("coalmine_canary_successes_total", verdict)] == 1


async def test_failing_metrics_roll_the_canary_back(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn, receiver: Receiver
) -> None:
    """With an AlertProvider whose address is in a Secret, and an event webhook."""
    address = base64.b64encode(receiver.url("/alerts").encode()).decode()
    await world.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "on-call", "namespace": ""},
         "data": {"address": address}}
    )  # fmt: skip
    await world.create(
        {"apiVersion": "coalmine.dev/v1beta1", "kind": "AlertProvider",
         "metadata": {"name": "on-call", "namespace": ""},
         "spec": {"type": "webhook", "secretRef": {"name": "on-call"}}}
    )  # fmt: skip
    analysis = canary()["spec"]["analysis"]
    analysis["alerts"] = [
        {"name": "on-call", "severity": "error", "providerRef": {"name": "on-call"}}
    ]
    analysis["webhooks"] = [{"name": "log", "type": "event", "url": receiver.url("/events")}]
    await world.initialized(analysis=analysis)

    async with following(world, virtual_service_of) as timeline:
        await world.ship("podinfo", NEW_IMAGE)
        await eventually_async(lambda: _canary_weight_is(world, 20))
        metrics_stand_in.success_rate = 80.0  # errors show once the canary gets traffic
        failed = await world.wait_phase("Failed")

    assert timeline["weights"] == [0, 20, 0]
    assert failed["status"]["failedChecks"] == 2
    assert await world.image_of("podinfo-primary") == OLD_IMAGE
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
    key = f"podinfo.{world.namespace}"
    await world.event_starting(f"Rolling back {key} failed checks threshold reached 2")
    halt = await world.event_starting(f"Halt advancement {key} request-success-rate 80.00 < 99")
    assert (halt["type"], halt["reason"]) == ("Warning", "Synced")
    await eventually_async(_async(lambda: receiver.bodies("/alerts")))
    [alert] = receiver.bodies("/alerts")  # error alerts only: the rollback
    assert (alert["name"], alert["namespace"], alert["phase"]) == (
        "podinfo",
        world.namespace,
        "Failed",
    )
    assert alert["check"]["metric"] == "request-success-rate" and alert["check"]["value"] == 80.0
    sent = [body["metadata"]["eventMessage"] for body in receiver.bodies("/events")]
    assert f"Rolling back {key} failed checks threshold reached 2" in sent


async def test_a_progress_deadline_rolls_the_canary_back(world: World, operator: Operator) -> None:
    """A canary whose pods never get ready. The Deployment controller does not say so
    (a target scaled up from zero with its new template is "complete" to it: no
    ProgressDeadlineExceeded), so coalmine's own clock catches it."""
    await world.initialized(progressDeadlineSeconds=5)
    await world.stall("podinfo")

    async with following(world, virtual_service_of) as timeline:
        await world.ship("podinfo", NEW_IMAGE)
        failed = await world.wait_phase("Failed", deadline=90)

    assert timeline["weights"] == [0]
    assert failed["status"]["canaryWeight"] == 0
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
    assert await world.image_of("podinfo-primary") == OLD_IMAGE
    await world.event_starting(f"Rolling back podinfo.{world.namespace}")
    said = await messages(world)
    assert any("progress deadline exceeded" in m for m in said), said
    target = await world.must_get(DEPLOYMENTS, "podinfo")
    reasons = {c["type"]: c["reason"] for c in target.get("status", {}).get("conditions", [])}
    assert reasons.get("Progressing") != "ProgressDeadlineExceeded"


async def scrape(base_url: str) -> Any:
    text, _ = await scrape_text(base_url)
    return parse(text)


def _async(check: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def checked() -> Any:
        return check()

    return checked


async def _canary_weight_is(world: World, weight: int) -> bool:
    found = await world.get(CANARIES, "podinfo")
    return bool(found) and (found or {}).get("status", {}).get("canaryWeight") == weight


# Deletion ------------------------------------------------------------------------------

USERS_SERVICE: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo", "namespace": "test", "labels": {"team": "web"}},
    "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": 9898}]},
}
USERS_VIRTUAL_SERVICE: Obj = {
    "apiVersion": ISTIO,
    "kind": "VirtualService",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "hosts": ["podinfo"],
        "exportTo": ["."],
        "http": [{"route": [{"destination": {"host": "podinfo"}}], "timeout": "3s"}],
    },
}


async def test_deleting_with_revert_on_deletion_restores_the_original_objects(
    world: World, operator: Operator
) -> None:
    original_service = await world.create(USERS_SERVICE)
    original_vs = await world.create(USERS_VIRTUAL_SERVICE)
    podinfo = await world.initialized(revertOnDeletion=True)
    assert FINALIZER in podinfo["metadata"]["finalizers"]
    taken = await world.must_get(SERVICES, "podinfo")
    assert taken["spec"]["selector"] == {"app": "podinfo-primary"}
    assert ORIGINAL_SPEC in taken["metadata"]["annotations"]

    await world.delete(CANARIES, "podinfo")
    await world.wait_gone(CANARIES, "podinfo")

    for kind, original in ((SERVICES, original_service), (VIRTUAL_SERVICES, original_vs)):
        restored = await world.must_get(kind, "podinfo")
        assert restored["spec"] == original["spec"], kind.kind
        assert restored["metadata"].get("labels") == original["metadata"].get("labels")
        assert restored["metadata"].get("annotations") == original["metadata"].get("annotations")
        assert "ownerReferences" not in restored["metadata"]
    assert await world.get(DEPLOYMENTS, "podinfo-primary") is None
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 2
    key = f"podinfo.{world.namespace}"
    await world.event_starting(f"Canary {key} deleted, traffic back on {key}")


async def test_deleting_mid_analysis_without_revert_keeps_the_primary_serving(
    world: World, operator: Operator
) -> None:
    """No revertOnDeletion: all traffic goes to the primary and what serves outlives the
    Canary. Without coalmine's finalizer the garbage collector would delete the primary,
    the Services and the VirtualService, as it does the Secret owned by the Canary here
    (which shows that the collector ran)."""
    await world.create(USERS_SERVICE)
    podinfo = await world.initialized()
    assert FINALIZER in podinfo["metadata"]["finalizers"]
    await world.owned_secret(podinfo)
    await world.ship("podinfo", NEW_IMAGE)
    await eventually_async(lambda: _canary_weight_is(world, 20))

    await world.delete(CANARIES, "podinfo")
    await world.wait_gone(CANARIES, "podinfo")
    await world.wait_gone(SECRETS, "collected")

    vs = await world.must_get(VIRTUAL_SERVICES, "podinfo")
    route = {d["destination"]["host"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}
    assert route == {"podinfo-primary": 100, "podinfo-canary": 0}
    kept = [
        (VIRTUAL_SERVICES, "podinfo"),
        (DEPLOYMENTS, "podinfo-primary"),
        *((SERVICES, name) for name in ("podinfo-primary", "podinfo-canary")),
        *((DESTINATION_RULES, name) for name in ("podinfo-primary", "podinfo-canary")),
    ]
    for kind, name in kept:
        metadata = (await world.must_get(kind, name))["metadata"]
        assert "ownerReferences" not in metadata, (kind.kind, name)
        assert "app.kubernetes.io/managed-by" not in (metadata.get("labels") or {})
        assert metadata["annotations"][KEPT_FROM] == "podinfo"
    service = await world.must_get(SERVICES, "podinfo")  # the user's, taken over
    assert service["spec"]["selector"] == {"app": "podinfo-primary"}
    assert service["metadata"]["labels"] == {"team": "web"}
    assert ORIGINAL_SPEC in service["metadata"]["annotations"]  # for a later revert
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE
    assert primary["status"]["availableReplicas"] == 2
    key = f"podinfo.{world.namespace}"
    said = await world.event_starting(f"Canary {key} deleted, all traffic on podinfo-primary")
    assert "kept as the user's: deployment podinfo-primary" in said["message"]


async def test_a_re_applied_service_is_repaired_on_the_watch_event_not_the_next_tick(
    world: World, operator: Operator
) -> None:
    """`kubectl apply` of the user's Service resets its selector to the target's pods
    (scaled to zero): the operator repairs it when the change arrives, though the next
    tick is a minute away."""
    await world.create(USERS_SERVICE)
    await world.initialized()
    analysis = canary()["spec"]["analysis"]
    analysis["interval"] = "60s"
    await world.patch(CANARIES, "podinfo", {"spec": {"analysis": analysis}})
    await asyncio.sleep(3)  # the tick at the old 1 s interval reads the new one, then sleeps
    taken = await world.must_get(SERVICES, "podinfo")
    assert taken["spec"]["selector"] == {"app": "podinfo-primary"}

    await world.patch(SERVICES, "podinfo", {"spec": {"selector": {"app": "podinfo"}}})

    async def repaired() -> bool:
        service = await world.must_get(SERVICES, "podinfo")
        return bool(service["spec"]["selector"] == {"app": "podinfo-primary"})

    await eventually_async(repaired, deadline=15)
    service = await world.must_get(SERVICES, "podinfo")
    assert list(service["metadata"]["annotations"]) == [ORIGINAL_SPEC]  # kopf wrote nothing


async def test_watches_cut_every_half_second_neither_stall_nor_repeat_a_step(
    world: World,
    start_operator: StartOperator,
    metrics_stand_in: MetricsStandIn,
    kube_emulator: KubeEmulator,
) -> None:
    """Every watch stream is cut 0.5 s after it starts (a load balancer, an API server
    restart), from before the operator starts: it resumes its watches, so a Canary created
    while they keep dropping is initialized and a new image is promoted, each step once."""
    if world.rollouts is None:
        pytest.skip("watches are cut by the API emulator's fault injection; not on a cluster")
    kube_emulator.faults.configure(rate=1.0, kinds=("drop-watch",), seed=3)
    kube_emulator.faults.drop_after_s = 0.5
    try:
        await start_operator()
        await world.initialized()
        await world.ship("podinfo", NEW_IMAGE)
        await world.wait_phase("Succeeded")
        dropped = kube_emulator.faults.injected["drop-watch"]
    finally:
        kube_emulator.faults.configure(rate=0.0, seed=0)
    assert dropped >= 3, kube_emulator.faults.log
    key = f"podinfo.{world.namespace}"
    said = await messages(world)
    assert said.count(f"Starting canary analysis for {key}, canary weight 20") == 1, said
    for weight in (40, 60):
        assert said.count(f"Advance {key} canary weight {weight}") == 1, said


# Invalid specs and Flagger's resources -------------------------------------------------


async def test_an_invalid_canary_gets_a_warning_naming_every_problem_and_is_not_advanced(
    world: World, operator: Operator
) -> None:
    """Problems the CRD cannot see: the controller's interval floor, a cross-namespace ref."""
    await world.create(deployment())
    analysis = canary()["spec"]["analysis"]
    analysis["interval"] = "500ms"
    analysis["metrics"].append(
        {"name": "latency", "templateRef": {"name": "latency", "namespace": "shared"},
         "thresholdRange": {"max": 500}}
    )  # fmt: skip
    await world.create(canary(analysis=analysis))

    async def warned() -> list[Obj]:
        return [e for e in await world.events() if "Invalid canary spec" in e["message"]]

    [warning] = await eventually_async(warned)
    assert warning["type"] == "Warning"
    assert "spec.analysis.interval: must be at least 1s" in warning["message"]
    cross = "spec.analysis.metrics[2].templateRef.namespace: names namespace 'shared'"
    assert cross in warning["message"]
    assert await world.get(DEPLOYMENTS, "podinfo-primary") is None

    fixed = {"spec": {"analysis": {"interval": "1s", "metrics": analysis["metrics"][:2]}}}
    await world.patch(CANARIES, "podinfo", fixed)
    await world.wait_phase("Initialized")


async def test_flagger_canaries_are_reconciled_in_compat_mode(
    world: World, start_operator: StartOperator
) -> None:
    await start_operator(scope=ScopeSettings(namespaces=(world.namespace,), flagger_compat=True))
    await world.create(deployment())
    await world.create(canary(api_version="flagger.app/v1beta1"))

    podinfo = await world.wait_phase("Initialized", kind=FLAGGER_CANARIES)

    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    [owner] = primary["metadata"]["ownerReferences"]
    assert (owner["apiVersion"], owner["uid"]) == (
        "flagger.app/v1beta1",
        podinfo["metadata"]["uid"],
    )


# Two replicas --------------------------------------------------------------------------

REPLICAS = ("replica-a", "replica-b")
NAMES = ("podinfo-a", "podinfo-b", "podinfo-c")


@dataclass
class Replica:
    """`coalmine controller --leader-elect` as its own process, as in a pod of a Deployment."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, world: World, metrics: MetricsStandIn, logs: Path) -> Replica:
        log = logs / f"{name}.log"
        command = [
            sys.executable, "-m", "coalmine", "controller", "--leader-elect",
            "--kubeconfig", str(world.kubeconfig), "--namespace", world.namespace,
            "--min-interval", "1s", "--metrics-server", metrics.url,
            "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0",
        ]  # fmt: skip
        env = {
            **os.environ,
            "POD_NAME": name,
            "POD_NAMESPACE": world.namespace,
            "COALMINE_LEASE_DURATION": "5",
        }
        env.pop("KUBECONFIG", None)
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, process, log)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


async def lease_holder(world: World) -> str:
    lease = await world.get(LEASES, "coalmine-controller")
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


@pytest.mark.slow
async def test_two_replicas_never_both_act_and_the_other_takes_over(
    world: World, metrics_stand_in: MetricsStandIn, tmp_path: Path
) -> None:
    for name in NAMES:
        await world.create(deployment(name))
        await world.create(canary(name))
    a = Replica.start("replica-a", world, metrics_stand_in, tmp_path)
    b: Replica | None = None
    try:
        await eventually_async(lambda: _holds(world, "replica-a"), deadline=30)
        b = Replica.start("replica-b", world, metrics_stand_in, tmp_path)
        for name in NAMES:
            await world.wait_phase("Initialized", name)
        for name in NAMES:
            await world.ship(name, NEW_IMAGE)
        for name in NAMES:
            await eventually_async(lambda n=name: _weight_at_least(world, n, 20))  # type: ignore[misc]
        a.process.kill()  # a crash: the lease is not released
        await asyncio.to_thread(a.process.wait, 10)
        before = {e["metadata"]["name"]: e for e in await world.events()}  # all of replica-a's
        await eventually_async(lambda: _holds(world, "replica-b"), deadline=30)
        for name in NAMES:
            await world.wait_phase("Succeeded", name)
            await world.event_starting(f"Promotion completed! Scaling down {name}.")
    finally:
        for replica in (a, b):
            if replica is not None and replica.process.poll() is None:
                replica.process.terminate()  # the emulator must go on answering meanwhile:
                await asyncio.to_thread(replica.process.wait, 30)

    assert b is not None
    assert b.process.returncode == 0, b.tail()
    assert await lease_holder(world) == ""  # released on SIGTERM, for the next one to start at once
    assert {e["reportingInstance"] for e in before.values()} == {"replica-a"}, a.tail()
    events = await world.events()
    assert {e["reportingInstance"] for e in events if e["metadata"]["name"] not in before} == {
        "replica-b"
    }
    for name in NAMES:  # had both acted, each step would show twice, once per replica
        key = f"{name}.{world.namespace}"
        for message in [
            f"Starting canary analysis for {key}, canary weight 20",
            f"Advance {key} canary weight 40",
            f"Advance {key} canary weight 60",
            f"Promotion completed! Scaling down {key}",
        ]:
            written = [e for e in events if e["message"] == message]
            # at most once: the kill may land between a step's status and its event
            assert [e["count"] for e in written] in ([1], []), (message, written)


async def _holds(world: World, identity: str) -> bool:
    return await lease_holder(world) == identity


async def _weight_at_least(world: World, name: str, weight: int) -> bool:
    found = await world.get(CANARIES, name)
    return int(((found or {}).get("status") or {}).get("canaryWeight") or 0) >= weight
