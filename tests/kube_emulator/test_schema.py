"""CRD structural schemas: pruning, defaulting and validation, as a client sees them."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import CRDS, MERGE, call
from tests.kube_emulator.samples import GROUP, WIDGET_SCHEMA, widget, widget_crd
from tests.kube_emulator.schema import admit

WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"


def _errors(spec: dict[str, Any]) -> list[str]:
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}
    return [str(error) for error in admit(obj, WIDGET_SCHEMA)[2]]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"analysis": {"stepWeight": 200}},
            "spec.analysis.stepWeight: Invalid value: 200: spec.analysis.stepWeight in body should be less than or equal to 100",  # noqa: E501
        ),
        (
            {"analysis": {"stepWeight": -1}},
            "spec.analysis.stepWeight: Invalid value: -1: spec.analysis.stepWeight in body should be greater than or equal to 0",  # noqa: E501
        ),
        (
            {"analysis": {"maxWeight": 100}},
            "spec.analysis.maxWeight: Invalid value: 100: spec.analysis.maxWeight in body should be less than 100",  # noqa: E501
        ),
        (
            {"analysis": {"stepWeight": "ten"}},
            'spec.analysis.stepWeight: Invalid value: "string": spec.analysis.stepWeight in body must be of type integer: "string"',  # noqa: E501
        ),
        (
            {"analysis": {"interval": "soon"}},
            "spec.analysis.interval: Invalid value: \"soon\": spec.analysis.interval in body should match '^[0-9]+(s|m)$'",  # noqa: E501
        ),
        (
            {"analysis": {}, "mode": "yolo"},
            'spec.mode: Unsupported value: "yolo": supported values: "canary", "blueGreen"',
        ),
        (
            {"analysis": {}, "name": "x"},
            'spec.name: Invalid value: "x": spec.name in body should be at least 2 chars long',
        ),
        (
            {"analysis": {}, "name": "waytoolong"},
            "spec.name: Too long: may not be longer than 8",
        ),
        (
            {"analysis": {}, "tags": ["a", "b", "c"]},
            "spec.tags: Too many: 3: must have at most 2 items",
        ),
        (
            {"analysis": {}, "tags": [""]},
            'spec.tags[0]: Invalid value: "": spec.tags[0] in body should be at least 1 chars long',
        ),
        (
            {"analysis": {}, "labels": {"a": 1}},
            'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',  # noqa: E501
        ),
        (
            {"analysis": {}, "port": True},
            'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',  # noqa: E501
        ),
        ({}, "spec.analysis: Required value"),
    ],
)
def test_validation_messages_name_the_field(spec: dict[str, Any], expected: str) -> None:
    assert _errors(spec) == [expected]


@pytest.mark.parametrize(
    "spec",
    [
        {"analysis": {"stepWeight": 100, "maxWeight": 99}},
        {"analysis": {}, "port": 8080},
        {"analysis": {}, "port": "http"},
        {"analysis": {}, "note": None},
        {"analysis": {}, "free": {"any": {"thing": [1, "x"]}}},
    ],
)
def test_valid_specs_pass(spec: dict[str, Any]) -> None:
    assert _errors(spec) == []


def test_pruning_defaulting_and_nulls() -> None:
    spec = {
        "analysis": {"stepWeight": 5, "threshold": None, "bogus": 1},
        "closed": {"a": "x", "b": "y"},
        "free": {"kept": 1},
        "extra": 1,
    }
    obj = {
        "apiVersion": "v",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "b"}},
        "spec": spec,
        "top": 1,
    }
    admitted, dropped, errors = admit(obj, WIDGET_SCHEMA)
    assert errors == []
    assert sorted(dropped) == ["spec.analysis.bogus", "spec.closed.b", "spec.extra", "top"]
    assert admitted["spec"] == {
        "analysis": {"stepWeight": 5, "interval": "1m", "threshold": 5},
        "closed": {"a": "x"},
        "free": {"kept": 1},
    }
    assert admitted["metadata"] == {"name": "w", "labels": {"a": "b"}}


@pytest.fixture
async def widgets(kube_http: aiohttp.ClientSession) -> None:
    status, body = await call(kube_http, "POST", CRDS, widget_crd())
    assert status == 201, body


async def test_invalid_custom_resource_is_422_like_the_real_server(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    status, body = await call(kube_http, "POST", WIDGETS, widget("w", step_weight=200))
    assert (status, body["kind"], body["reason"], body["code"]) == (422, "Status", "Invalid", 422)
    assert body["message"] == (
        f'Widget.{GROUP} "w" is invalid: spec.analysis.stepWeight: Invalid value: 200: '
        "spec.analysis.stepWeight in body should be less than or equal to 100"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 200: spec.analysis.stepWeight in body should be less than or equal to 100",  # noqa: E501
            "field": "spec.analysis.stepWeight",
        }
    ]
    _, _created = await call(kube_http, "POST", WIDGETS, widget("w"))
    status, body = await call(
        kube_http, "PATCH", f"{WIDGETS}/w", {"spec": {"mode": "x", "name": "y"}}, headers=MERGE
    )
    assert status == 422
    assert body["message"].startswith(
        f'Widget.{GROUP} "w" is invalid: [spec.mode: Unsupported value'
    )
    assert len(body["details"]["causes"]) == 2


async def test_unknown_fields_are_pruned_with_a_warning(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    sent = widget("w")
    sent["spec"]["surprise"] = True
    async with kube_http.post(WIDGETS, json=sent) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Warning"] == '299 - "unknown field \\"spec.surprise\\""'
    assert "surprise" not in created["spec"]
    assert created["spec"]["analysis"] == {"stepWeight": 10, "interval": "1m", "threshold": 5}


async def test_strict_field_validation_refuses_unknown_fields(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    sent = widget("w")
    sent["spec"]["surprise"] = True
    status, body = await call(
        kube_http, "POST", WIDGETS, sent, params={"fieldValidation": "Strict"}
    )
    assert (status, body["reason"]) == (400, "BadRequest")
    assert 'unknown field "spec.surprise"' in body["message"]


async def test_crds_are_checked_too(kube_http: aiohttp.ClientSession) -> None:
    crd = widget_crd()
    del crd["spec"]["versions"][0]["schema"]
    crd["metadata"]["name"] = "wrong.name"
    status, body = await call(kube_http, "POST", CRDS, crd)
    assert status == 422
    fields = {cause["field"] for cause in body["details"]["causes"]}
    assert fields == {"metadata.name", "spec.versions[0].schema.openAPIV3Schema"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"apiVersion": "test.coalmine.dev/v1", "kind": "Widget", "spec": {"port": NaN}}',
        b'{"apiVersion": "test.coalmine.dev/v1", "kind": "Widget", "spec": {"port": 1e400}}',
        b'{"apiVersion": "test.coalmine.dev/v1", "kind": "Widget", "spec": ',
    ],
    ids=["NaN", "past-a-double", "cut-short"],
)
async def test_a_body_go_cannot_decode_is_400_and_stores_nothing(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator, widgets: None, raw: bytes
) -> None:
    headers = {"Content-Type": "application/json"}
    async with kube_http.post(WIDGETS, data=raw, headers=headers) as response:
        status, body = response.status, await response.json()
    assert (status, body["reason"]) == (400, "BadRequest")
    assert "the request body is not valid JSON" in body["message"]
    assert kube_emulator.objects(f"{GROUP}/v1", "widgets", "default") == []
