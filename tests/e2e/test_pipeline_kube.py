"""The pipeline commands against Kubernetes: the API emulator (and a real cluster when
COALMINE_TEST_KUBECONFIG is set, through tests/fixtures/world.py).

The CLI runs in a thread with `--kubeconfig`, as it would in a CI job, while the
emulator (and, where a verdict is needed, the real operator) runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import yaml
from typer.testing import Result

from coalmine.engine.requests import REQUEST_ANNOTATION
from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import (
    CANARIES,
    DEPLOYMENTS,
    DESTINATION_RULES,
    GATEWAY_API_GATEWAYS,
    GATEWAYS,
    HTTP_ROUTES,
    NAMESPACES,
    SERVICES,
    VIRTUAL_SERVICES,
)
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.kube.runtime.connection import close, connect
from coalmine.kube.runtime.settings import ClusterSettings
from tests.fixtures.cli import invoke, wait_lines
from tests.fixtures.operator import MetricsStandIn, canary, deployment, install_crds, shape
from tests.fixtures.world import Operator, World
from tests.kube_emulator import KubeEmulator

NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1"
NEWER_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.2"


async def cli(world: World, *args: str) -> Result:
    where = ["--kubeconfig", str(world.kubeconfig), "-n", world.namespace]
    return await asyncio.to_thread(invoke, *args, *where)


async def set_phase(world: World, phase: str, **status: Any) -> None:
    """Write the canary's status as the operator would."""
    found = await world.must_get(CANARIES, "podinfo")
    body = {**found, "status": {"phase": phase, **status}}
    await world.client.replace(CANARIES, "podinfo", world.namespace, body, subresource="status")


async def cli_events(world: World) -> list[Obj]:
    return [e for e in await world.events() if e.get("reportingInstance") == "coalmine-cli"]


# Requests and deploy, without the operator -------------------------------------------------


async def test_promote_pause_resume_abort_write_what_the_operator_reads(world: World) -> None:
    await world.create(deployment())
    await world.create(canary())
    await set_phase(world, "Progressing", canaryWeight=20, lastAppliedSpec="r2")

    promoted = await cli(world, "promote", "podinfo", "--by", "alice")
    assert promoted.exit_code == 0, promoted.output
    assert promoted.output.strip() == (
        "promotion of podinfo requested by alice; the next tick copies revision r2"
        " (ghcr.io/stefanprodan/podinfo:6.0.0) to podinfo-primary"
    )
    stored = await world.must_get(CANARIES, "podinfo")
    request = json.loads(stored["metadata"]["annotations"][REQUEST_ANNOTATION])
    assert (request["action"], request["by"]) == ("promote", "alice")
    [event] = await cli_events(world)
    assert (event["reason"], event["type"]) == ("PromotionRequested", "Normal")
    assert event["message"] == f"Promotion of podinfo.{world.namespace} requested by alice"
    assert event["involvedObject"]["uid"] == stored["metadata"]["uid"]

    paused = await cli(world, "pause", "podinfo", "--by", "bob")
    assert paused.exit_code == 0, paused.output
    assert (await world.must_get(CANARIES, "podinfo"))["spec"]["suspend"] is True
    refused = await cli(world, "abort", "podinfo")
    assert refused.exit_code == 1
    assert str(refused.exception) == "cannot abort podinfo: it is paused; resume it first"
    resumed = await cli(world, "resume", "podinfo", "--by", "bob")
    assert resumed.exit_code == 0, resumed.output
    assert (await world.must_get(CANARIES, "podinfo"))["spec"]["suspend"] is False
    reasons = [e["reason"] for e in await cli_events(world)]
    assert sorted(reasons) == ["Paused", "PromotionRequested", "Resumed"]

    await set_phase(world, "Succeeded", lastAppliedSpec="r2", lastPromotedSpec="r2")
    late = await cli(world, "abort", "podinfo")
    assert late.exit_code == 1
    assert "it is Succeeded; abort works while the canary is Progressing or" in str(late.exception)
    annotation = (await world.must_get(CANARIES, "podinfo"))["metadata"]["annotations"]
    assert json.loads(annotation[REQUEST_ANNOTATION])["action"] == "promote"  # unchanged


async def test_deploy_changes_only_the_image_and_says_the_new_revision(world: World) -> None:
    await world.create(deployment())
    before = await world.must_get(DEPLOYMENTS, "podinfo")
    shipped = await cli(world, "deploy", "podinfo", "--image", NEW_IMAGE)
    assert shipped.exit_code == 0, shipped.output
    after = await world.must_get(DEPLOYMENTS, "podinfo")
    old = pod_template_revision(before["spec"]["template"])
    new = pod_template_revision(after["spec"]["template"])
    assert shipped.output.strip() == (
        f"deployment/podinfo in {world.namespace}: image {NEW_IMAGE}; revision {old[:8]} ->"
        f" {new[:8]}"
    )
    containers = before["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = NEW_IMAGE
    assert shape(after)["spec"] == shape(before)["spec"]
    env = await cli(world, "deploy", "podinfo", "--set-env", "LOG=debug", "--container", "nope")
    assert env.exit_code == 1
    assert str(env.exception) == (
        f"deployment podinfo in {world.namespace} has no container 'nope'; its containers: podinfod"
    )


# deploy --wait and wait, with the real operator ------------------------------------------


async def test_deploy_wait_follows_the_operator_to_its_verdict(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    await world.create(deployment())
    await world.create(canary())
    first = await cli(world, "wait", "podinfo", "--timeout", "60s")
    assert first.exit_code == 0, first.output

    shipped = await cli(
        world, "deploy", "podinfo", "--image", NEW_IMAGE, "--wait", "--timeout", "90s", "-o", "json"
    )
    assert shipped.exit_code == 0, shipped.output
    lines = wait_lines(shipped.stdout)
    target = await world.must_get(DEPLOYMENTS, "podinfo")
    assert lines[-1]["revision"] == pod_template_revision(target["spec"]["template"])
    # The progress lines are snapshots read once a second, as fast as the 1 s interval, so
    # one step may fall between two reads; the events cannot be missed and name every step.
    messages = [d["message"] for d in lines if d["type"] == "event"]
    step = re.compile(r"^(?:Advance \S+|Starting canary analysis for \S+,) canary weight (\d+)")
    steps = [int(m[1]) for m in map(step.match, messages) if m]
    assert steps == [20, 40, 60], messages
    weights = [d["canaryWeight"] for d in lines if d["type"] == "progress" and d["analysing"]]
    assert max(weights) == 60, weights

    metrics_stand_in.success_rate = 50.0
    failed = await cli(
        world, "deploy", "podinfo", "--image", NEWER_IMAGE, "--wait", "--timeout", "90s"
    )
    assert failed.exit_code == 1, failed.output
    assert (
        "rolled back: failed checks 2/2 (request-success-rate 50.00 not >= 99)"
        in (failed.stdout.splitlines()[-1])
    )
    table = await cli(world, "status")
    assert table.output.splitlines()[1].split()[:4] == ["podinfo", "Failed", "0%", "2/2"]


# The manual canary --------------------------------------------------------------------------


def release(name: str, label: str, image: str) -> Obj:
    obj = deployment(name, image=image, replicas=1)
    labels = {"app": "podinfo", "release": label}
    obj["metadata"]["labels"] = labels
    obj["spec"]["selector"] = {"matchLabels": labels}
    obj["spec"]["template"]["metadata"]["labels"] = labels
    return obj


GATEWAY = """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: podinfo, namespace: NS}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
"""
DESTINATION_RULE = """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: podinfo, namespace: NS}
spec:
  host: podinfo
  subsets:
  - {name: primary, labels: {release: primary}}
  - {name: canary, labels: {release: canary}}
"""
VIRTUAL_SERVICE = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: NS}
spec:
  hosts: ['*']
  gateways: [podinfo]
  http:
  - route:
    - {destination: {host: podinfo, subset: primary}, weight: PRIMARY}
    - {destination: {host: podinfo, subset: canary}, weight: CANARY}
"""


def expected(text: str, world: World, canary_weight: int = 0) -> Obj:
    text = text.replace("NS", world.namespace).replace("CANARY", str(canary_weight))
    loaded: Obj = yaml.safe_load(text.replace("PRIMARY", str(100 - canary_weight)))
    return loaded


async def test_the_manual_canary_writes_the_expected_objects(world: World) -> None:
    primary = await world.create(release("podinfo-primary", "primary", NEW_IMAGE))
    canary_release = await world.create(release("podinfo-canary", "canary", NEWER_IMAGE))
    dry = await cli(world, "manual", "init", "podinfo", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert await world.get(VIRTUAL_SERVICES, "podinfo") is None

    init = await cli(world, "manual", "init", "podinfo")
    assert init.exit_code == 0, init.output
    assert [d for d in yaml.safe_load_all(init.stdout) if d] == [
        expected(GATEWAY, world),
        expected(DESTINATION_RULE, world),
        expected(VIRTUAL_SERVICE, world),
    ]
    assert shape(await world.must_get(GATEWAYS, "podinfo")) == expected(GATEWAY, world)
    rule = await world.must_get(DESTINATION_RULES, "podinfo")
    assert shape(rule) == expected(DESTINATION_RULE, world)
    assert shape(await world.must_get(VIRTUAL_SERVICES, "podinfo")) == expected(
        VIRTUAL_SERVICE, world
    )

    for weight in (20, 40):
        step = await cli(world, "manual", "split", "podinfo", "--canary", str(weight))
        assert step.exit_code == 0, step.output
        stored = shape(await world.must_get(VIRTUAL_SERVICES, "podinfo"))
        assert stored == expected(VIRTUAL_SERVICE, world, weight)

    finished = await cli(world, "manual", "finish", "podinfo", "--timeout", "30s")
    assert finished.exit_code == 0, finished.output
    promoted = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    wanted_template = canary_release["spec"]["template"]
    wanted_template["metadata"]["labels"]["release"] = "primary"
    assert promoted["spec"]["template"] == wanted_template
    assert promoted["spec"]["selector"] == primary["spec"]["selector"]
    assert shape(await world.must_get(VIRTUAL_SERVICES, "podinfo")) == expected(
        VIRTUAL_SERVICE, world
    )
    assert (await world.must_get(DEPLOYMENTS, "podinfo-canary"))["spec"]["replicas"] == 0
    again = await cli(world, "manual", "init", "podinfo")
    assert [text for text in again.output.splitlines() if text.startswith("# ")] == [
        "# gateway/podinfo unchanged",
        "# destinationrule/podinfo unchanged",
        "# virtualservice/podinfo unchanged",
    ]
    rolled = await cli(world, "manual", "rollback", "podinfo")
    assert rolled.exit_code == 0, rolled.output
    assert "# virtualservice/podinfo unchanged" in rolled.output
    assert "# deployment/podinfo-canary unchanged" in rolled.output


APEX: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo"},
    "spec": {"selector": {"app": "podinfo"}, "ports": [{"port": 80, "targetPort": 9898}]},
}


def backends(route: Obj) -> list[tuple[str, int]]:
    return [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]]


async def test_the_manual_canary_on_the_gateway_api(world: World) -> None:
    await world.create(release("podinfo-primary", "primary", NEW_IMAGE))
    await world.create(release("podinfo-canary", "canary", NEWER_IMAGE))
    await world.create({**APEX, "metadata": {**APEX["metadata"], "namespace": world.namespace}})
    init = await cli(
        world, "manual", "init", "podinfo", "--provider", "gatewayapi", "--host", "app.example"
    )
    assert init.exit_code == 0, init.output
    assert [line for line in init.output.splitlines() if line.startswith("# ")] == [
        "# gateway/podinfo created",
        "# service/podinfo-primary created",
        "# service/podinfo-canary created",
        "# httproute/podinfo created",
    ]
    gateway = await world.must_get(GATEWAY_API_GATEWAYS, "podinfo")
    assert gateway["spec"]["listeners"][0]["hostname"] == "app.example"
    assert await world.get(GATEWAYS, "podinfo") is None  # not Istio's
    primary_service = await world.must_get(SERVICES, "podinfo-primary")
    assert primary_service["spec"]["selector"] == {"app": "podinfo", "release": "primary"}
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert backends(route) == [("podinfo-primary", 100), ("podinfo-canary", 0)]

    for weight in (20, 40):  # found without --provider: the HTTPRoute podinfo
        step = await cli(world, "manual", "split", "podinfo", "--canary", str(weight))
        assert step.exit_code == 0, step.output
        route = await world.must_get(HTTP_ROUTES, "podinfo")
        assert backends(route) == [("podinfo-primary", 100 - weight), ("podinfo-canary", weight)]

    finished = await cli(world, "manual", "finish", "podinfo", "--timeout", "30s")
    assert finished.exit_code == 0, finished.output
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert backends(route) == [("podinfo-primary", 100), ("podinfo-canary", 0)]
    assert (await world.must_get(DEPLOYMENTS, "podinfo-canary"))["spec"]["replicas"] == 0
    again = await cli(
        world, "manual", "init", "podinfo", "--provider", "gatewayapi", "--host", "app.example"
    )
    assert [line for line in again.output.splitlines() if line.startswith("# ")] == [
        "# gateway/podinfo unchanged",
        "# service/podinfo-primary unchanged",
        "# service/podinfo-canary unchanged",
        "# httproute/podinfo unchanged",
    ]

    istio = await cli(world, "manual", "init", "podinfo")
    assert istio.exit_code == 0, istio.output
    both = await cli(world, "manual", "split", "podinfo", "--canary", "10")
    assert both.exit_code == 1
    assert "say which carries the split: --provider istio or --provider gatewayapi" in str(
        both.exception
    )
    chosen = await cli(
        world, "manual", "split", "podinfo", "--canary", "10", "--provider", "gatewayapi"
    )
    assert chosen.exit_code == 0, chosen.output
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert backends(route) == [("podinfo-primary", 90), ("podinfo-canary", 10)]


async def test_the_manual_canary_on_kubernetes_services_is_blue_green(world: World) -> None:
    await world.create(release("podinfo-primary", "primary", NEW_IMAGE))
    canary_release = await world.create(release("podinfo-canary", "canary", NEWER_IMAGE))
    await world.create({**APEX, "metadata": {**APEX["metadata"], "namespace": world.namespace}})
    missing = await cli(world, "manual", "split", "podinfo", "--canary", "100")
    assert missing.exit_code == 1
    assert str(missing.exception) == (
        "no virtualservice or httproute podinfo in namespace test, nor a service podinfo"
        " selecting a release; create them with: coalmine manual init podinfo"
        " [--provider istio|gatewayapi|kubernetes]"
    )

    init = await cli(world, "manual", "init", "podinfo", "--provider", "kubernetes")
    assert init.exit_code == 0, init.output
    assert "# service/podinfo configured" in init.output
    selector = (await world.must_get(SERVICES, "podinfo"))["spec"]["selector"]
    assert selector == {"app": "podinfo", "release": "primary"}

    share = await cli(world, "manual", "split", "podinfo", "--canary", "20")
    assert share.exit_code == 1
    assert str(share.exception) == (
        "--canary 20: provider kubernetes has no weights, the Service podinfo sends all"
        " traffic to the release it selects (blue/green); use --canary 100 to switch to the"
        " canary, --canary 0 to switch back, or split by weight with --provider istio or"
        " gatewayapi"
    )
    switched = await cli(world, "manual", "split", "podinfo", "--canary", "100")
    assert switched.exit_code == 0, switched.output
    selector = (await world.must_get(SERVICES, "podinfo"))["spec"]["selector"]
    assert selector == {"app": "podinfo", "release": "canary"}

    finished = await cli(world, "manual", "finish", "podinfo", "--timeout", "30s")
    assert finished.exit_code == 0, finished.output
    selector = (await world.must_get(SERVICES, "podinfo"))["spec"]["selector"]
    assert selector == {"app": "podinfo", "release": "primary"}
    promoted = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert promoted["spec"]["template"]["spec"] == canary_release["spec"]["template"]["spec"]
    assert (await world.must_get(DEPLOYMENTS, "podinfo-canary"))["spec"]["replicas"] == 0


# doctor -----------------------------------------------------------------------------------------


async def doctor(kubeconfig: Path, metrics: MetricsStandIn, namespace: str = "test") -> Result:
    args = ["doctor", "--kubeconfig", str(kubeconfig), "-n", namespace]
    return await asyncio.to_thread(invoke, *args, "--metrics-server", metrics.url)


def line(result: Result, start: str) -> str:
    found = [text for text in result.output.splitlines() if text.startswith(start)]
    assert found, f"no line starting with {start!r} in:\n{result.output}"
    return found[0]


async def test_doctor_names_what_a_cluster_lacks_and_the_fix(
    kube_emulator: KubeEmulator, kubeconfig: Path, metrics_stand_in: MetricsStandIn
) -> None:
    bare = await doctor(kubeconfig, metrics_stand_in, namespace="default")
    assert bare.exit_code == 1
    assert line(bare, "OK    cluster reachable: Kubernetes v1.32.0 at http://127.0.0.1:")
    assert line(bare, "FAIL  Istio installed:") == (
        "FAIL  Istio installed: missing CRDs: virtualservices.networking.istio.io,"
        " destinationrules.networking.istio.io, gateways.networking.istio.io"
    )
    lines = bare.output.splitlines()
    assert lines[lines.index(line(bare, "FAIL  Istio installed:")) + 1] == (
        "      fix: install Istio: istioctl install -y"
    )
    assert line(bare, "FAIL  coalmine controller running") == (
        "FAIL  coalmine controller running: no Deployment labelled app.kubernetes.io/name=coalmine"
    )

    install_crds(kube_emulator)
    client = await connect(ClusterSettings(kubeconfig=kubeconfig))
    try:
        await client.merge_patch(
            NAMESPACES, "test", None, {"metadata": {"labels": {"istio-injection": "enabled"}}}
        )
        controller = deployment("coalmine")
        controller["metadata"]["labels"] = {"app.kubernetes.io/name": "coalmine"}
        await client.create(DEPLOYMENTS, "test", controller)
    finally:
        await close(client)
    kube_emulator.complete_rollout("test", "coalmine")
    ready = await doctor(kubeconfig, metrics_stand_in)
    assert line(ready, "OK    Istio installed")
    assert line(ready, "OK    coalmine CRDs installed")
    assert line(ready, "OK    namespace test labelled for sidecar injection")
    assert line(ready, "OK    pods in test carry Istio sidecars: no pods yet")
    assert line(ready, "FAIL  Prometheus holds istio_requests_total").endswith(
        "answers but has no istio_requests_total series"
    )
    assert line(ready, "OK    coalmine controller running") == (
        "OK    coalmine controller running: test/coalmine, 2 available"
    )
    assert ready.exit_code == 1


async def test_metrics_reads_istio_builtins_for_primary_and_canary(
    world: World, metrics_stand_in: MetricsStandIn
) -> None:
    await world.create(deployment())
    await world.create(canary())
    metrics_stand_in.success_rate = 97.5
    shown = await cli(
        world, "metrics", "podinfo", "--metrics-server", metrics_stand_in.url, "-o", "json"
    )
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found["source"] == metrics_stand_in.url
    success = found["metrics"]["request-success-rate"]
    assert (success["primary"]["value"], success["canary"]["value"]) == (97.5, 97.5)
    assert 'destination_workload=~"podinfo-primary"' in success["primary"]["query"]
    assert 'destination_workload=~"podinfo"' in success["canary"]["query"]
    assert found["metrics"]["request-duration"]["canary"]["value"] == 50.0


async def test_metrics_without_a_server_says_how_to_get_one(world: World) -> None:
    await world.create(deployment())
    await world.create(canary())
    refused = await cli(world, "metrics", "podinfo")
    assert refused.exit_code == 1
    assert "set --metrics-server URL (or COALMINE_PROMETHEUS_URL)" in str(refused.exception)
