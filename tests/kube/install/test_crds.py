"""The CRDs: names, columns and subresources, installed into the emulator and put to use.

The emulator checks types, enums, required fields, bounds and patterns like the API
server; it does not run CEL rules, so where a rule is what rejects a manifest
(stepWeights not increasing) the test runs that rule on the stored object itself
(crd_checks.py) and says so.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from coalmine.kube.install.apply import apply_objects
from coalmine.kube.install.crds import custom_resource_definitions
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import CRDS, call

EXAMPLES = Path(__file__).parents[3] / "examples"
PLURALS = {
    "Canary": "canaries",
    "MetricTemplate": "metrictemplates",
    "AlertProvider": "alertproviders",
}


def by_kind(group: str = "coalmine.dev") -> dict[str, dict[str, Any]]:
    return {crd["spec"]["names"]["kind"]: crd for crd in custom_resource_definitions(group)}


def test_names_scope_and_versions() -> None:
    crds = by_kind()
    assert [crd["metadata"]["name"] for crd in crds.values()] == [
        "canaries.coalmine.dev",
        "metrictemplates.coalmine.dev",
        "alertproviders.coalmine.dev",
    ]
    names = {kind: crd["spec"]["names"] for kind, crd in crds.items()}
    assert names["Canary"]["singular"] == "canary" and names["Canary"]["plural"] == "canaries"
    assert names["MetricTemplate"]["shortNames"] == ["mt"]
    assert names["AlertProvider"]["shortNames"] == ["ap"]
    for crd in crds.values():
        assert crd["spec"]["scope"] == "Namespaced"
        [version] = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1beta1", True, True)


def test_the_canary_has_a_status_subresource_and_kubectl_columns() -> None:
    [version] = by_kind()["Canary"]["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"] if "priority" not in c}
    assert [(n, c["jsonPath"], c["type"]) for n, c in columns.items()] == [
        ("Status", ".status.phase", "string"),
        ("Weight", ".status.canaryWeight", "integer"),
        ("FailedChecks", ".status.failedChecks", "integer"),
        ("LastTransitionTime", ".status.lastTransitionTime", "date"),
    ]


def test_the_flagger_group_mirrors_flaggers_names() -> None:
    flagger, ours = by_kind("flagger.app"), by_kind()
    assert flagger["Canary"]["metadata"]["name"] == "canaries.flagger.app"
    for kind in ours:
        assert "shortNames" not in flagger[kind]["spec"]["names"]  # no clash with ours
        assert flagger[kind]["spec"]["names"]["categories"] == ["all"]
        if kind != "Canary":
            assert flagger[kind]["spec"]["versions"] == ours[kind]["spec"]["versions"]


def test_the_flagger_canary_schema_is_ours_without_the_judge() -> None:
    """flagger.app manifests keep thresholds: spec.analysis.judge is coalmine.dev only."""
    [flagger] = by_kind("flagger.app")["Canary"]["spec"]["versions"]
    [ours] = by_kind()["Canary"]["spec"]["versions"]
    schema = copy.deepcopy(ours["schema"]["openAPIV3Schema"])
    assert "judge" in schema["properties"]["spec"]["properties"]["analysis"]["properties"]
    del schema["properties"]["spec"]["properties"]["analysis"]["properties"]["judge"]
    del schema["properties"]["status"]["properties"]["judge"]
    assert flagger["schema"]["openAPIV3Schema"] == schema
    assert {**flagger, "schema": None} == {**ours, "schema": None}


def test_an_unknown_group_is_refused() -> None:
    with pytest.raises(ValueError, match=r"coalmine\.dev, flagger\.app, got 'example\.com'"):
        custom_resource_definitions("example.com")


def manifests() -> list[dict[str, Any]]:
    """Every example resource, moved to coalmine.dev, each with a name of its own."""
    docs = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in PLURALS:
                doc["apiVersion"] = "coalmine.dev/v1beta1"
                doc["metadata"]["name"] = f"{path.stem}-{doc['metadata']['name']}"[:63]
                docs.append(doc)
    return docs


def workshop_canary() -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLES / "workshop" / "canary.yaml").read_text())
    doc["apiVersion"] = "coalmine.dev/v1beta1"
    return copy.deepcopy(doc)


@pytest.fixture
async def installed(kube_emulator: KubeEmulator, kr8s_api: Any) -> KubeEmulator:
    await apply_objects(kr8s_api, custom_resource_definitions(), lambda _: None)
    kube_emulator.create("v1", "namespaces", {"metadata": {"name": "go-demo-7"}})
    return kube_emulator


async def post(http: aiohttp.ClientSession, doc: dict[str, Any]) -> tuple[int, Any]:
    namespace = doc["metadata"].get("namespace", "default")
    path = f"/apis/coalmine.dev/v1beta1/namespaces/{namespace}/{PLURALS[doc['kind']]}"
    return await call(http, "POST", path, doc, params={"fieldValidation": "Strict"})


async def test_every_example_is_accepted(installed: KubeEmulator, kube_http: Any) -> None:
    docs = manifests()
    assert {doc["kind"] for doc in docs} == set(PLURALS)
    for doc in docs:
        status, body = await post(kube_http, doc)
        assert status == 201, body  # the CEL rules pass as well: the emulator runs them


def _invalid(change: Any) -> dict[str, Any]:
    doc = workshop_canary()
    change(doc)
    return doc


INVALID = {
    "stepWeight 200": (
        lambda d: d["spec"]["analysis"].update(stepWeight=200),
        "spec.analysis.stepWeight",
        "less than or equal to 100",
    ),
    "unknown webhook type": (
        lambda d: d["spec"]["analysis"].update(
            webhooks=[{"name": "w", "type": "pre-deploy", "url": "http://x/"}]
        ),
        "spec.analysis.webhooks[0].type",
        'Unsupported value: "pre-deploy"',
    ),
    "bad interval": (
        lambda d: d["spec"]["analysis"].update(interval="1 minute"),
        "spec.analysis.interval",
        "should match",
    ),
    "negative threshold": (
        lambda d: d["spec"]["analysis"].update(threshold=-1),
        "spec.analysis.threshold",
        "greater than or equal to 0",
    ),
    "missing targetRef": (lambda d: d["spec"].pop("targetRef"), "spec.targetRef", "Required"),
    "steps not increasing": (
        lambda d: (
            d["spec"]["analysis"].pop("stepWeight"),
            d["spec"]["analysis"].update(stepWeights=[20, 10]),
        ),
        "spec.analysis.stepWeights",
        'Invalid value: "array": must be increasing',
    ),
    "both step settings (a CEL rule on the object)": (
        lambda d: d["spec"]["analysis"].update(stepWeights=[10, 20]),
        "spec.analysis",
        'Invalid value: "object": set stepWeight or stepWeights, not both',
    ),
    "a repeated metric name (list-type map)": (
        lambda d: d["spec"]["analysis"]["metrics"].append(d["spec"]["analysis"]["metrics"][0]),
        "spec.analysis.metrics[2]",
        "Duplicate value",
    ),
}


@pytest.mark.parametrize("name", INVALID)
async def test_invalid_canaries_get_422_naming_the_field(
    installed: KubeEmulator, kube_http: Any, name: str
) -> None:
    change, field, words = INVALID[name]
    status, body = await post(kube_http, _invalid(change))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    causes = {cause["field"]: cause["message"] for cause in body["details"]["causes"]}
    assert words in causes[field]


async def test_the_message_has_the_real_servers_shape(
    installed: KubeEmulator, kube_http: Any
) -> None:
    doc = _invalid(lambda d: d["spec"]["analysis"].update(stepWeights=[10, 20]))
    status, body = await post(kube_http, doc)
    assert status == 422, body
    assert body["message"] == (
        'Canary.coalmine.dev "go-demo-7" is invalid: spec.analysis: Invalid value: "object":'
        " set stepWeight or stepWeights, not both"
    )


async def test_cel_rules_run_on_updates_and_patches(
    installed: KubeEmulator, kube_http: Any
) -> None:
    doc = workshop_canary()
    status, stored = await post(kube_http, doc)
    assert status == 201, stored
    path = f"/apis/coalmine.dev/v1beta1/namespaces/{stored['metadata']['namespace']}/canaries/"
    path += stored["metadata"]["name"]
    patch = {"spec": {"analysis": {"stepWeights": [10, 20]}}}
    status, body = await call(
        kube_http, "PATCH", path, patch, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert status == 422 and "not both" in body["message"], body
    stored["spec"]["analysis"]["stepWeights"] = [10, 20]
    status, body = await call(kube_http, "PUT", path, stored)
    assert status == 422 and "not both" in body["message"], body


async def test_a_type_error_keeps_the_cel_rules_from_running(
    installed: KubeEmulator, kube_http: Any
) -> None:
    """As `hasBlockingErr` in the real strategy: the rules see an object of the right shape."""
    doc = _invalid(lambda d: d["spec"]["analysis"].update(stepWeight="ten", stepWeights=[1, 2]))
    status, body = await post(kube_http, doc)
    assert status == 422, body
    messages = [f"{c['field']}: {c['message']}" for c in body["details"]["causes"]]
    assert messages[0].startswith('spec.analysis.stepWeight: Invalid value: "string"')
    assert messages[-1].startswith('<nil>: Invalid value: "null": some validation rules')
    assert not any("not both" in m for m in messages)


async def test_unknown_fields_are_refused_under_strict_validation(
    installed: KubeEmulator, kube_http: Any
) -> None:
    status, body = await post(
        kube_http, _invalid(lambda d: d["spec"]["analysis"].update(stepWieght=10))
    )
    assert status == 400, body
    assert "spec.analysis.stepWieght" in body["message"]


async def test_the_stored_crd_keeps_columns_and_status(
    installed: KubeEmulator, kube_http: Any
) -> None:
    status, crd = await call(kube_http, "GET", f"{CRDS}/canaries.coalmine.dev")
    assert status == 200
    [version] = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:3] == [
        "Status",
        "Weight",
        "FailedChecks",
    ]
    assert {c["type"] for c in crd["status"]["conditions"] if c["status"] == "True"} >= {
        "Established"
    }


async def test_status_is_written_through_the_subresource(
    installed: KubeEmulator, kube_http: Any
) -> None:
    status, created = await post(kube_http, workshop_canary())
    assert status == 201, created
    path = "/apis/coalmine.dev/v1beta1/namespaces/go-demo-7/canaries/go-demo-7"
    new_status = {"phase": "Progressing", "canaryWeight": 20, "failedChecks": 1}
    status, body = await call(
        kube_http, "PATCH", f"{path}/status", {"status": new_status},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert status == 200, body
    assert body["status"]["canaryWeight"] == 20
    status, body = await call(
        kube_http, "PATCH", f"{path}/status", {"status": {"phase": "Exploded"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "status.phase"
