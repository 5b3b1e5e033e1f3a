"""The CRD schemas reject what `coalmine validate` rejects, field by field.

Each case is a manifest the models accept or reject; the schema (the emulator's checks
plus CEL, oneOf and list types, see crd_checks.py) must give the same verdict, and
where both reject, the error paths must name the same field (one a prefix of the other:
a rule on `spec.analysis` answers for `spec.analysis.metrics`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from coalmine.api.interval_floor import MIN_INTERVAL, interval_problems
from coalmine.api.loading import parse_resource
from coalmine.errors import ManifestError
from coalmine.kube.install.crds import custom_resource_definitions
from coalmine.kube.install.refinements import FIELD_SCHEMA, MODEL_RULES
from tests.fixtures.operator import canary
from tests.kube.install.crd_checks import admit, compile_rule, version_schema

EXAMPLES = Path(__file__).parents[3] / "examples"
CRDS = {crd["spec"]["names"]["kind"]: crd for crd in custom_resource_definitions()}

Doc = dict[str, Any]


def example(relative: str) -> Doc:
    doc: Doc = yaml.safe_load((EXAMPLES / relative).read_text())
    doc["apiVersion"] = "coalmine.dev/v1beta1"
    return doc


def model_problems(doc: Doc) -> list[str]:
    """The models' verdict; the interval floor is the controller's, not the model's nor the
    CRD's (`--min-interval`; see test_the_interval_floor_is_the_controllers)."""
    try:
        parse_resource(doc)
    except ManifestError as error:
        return [problem.path for problem in error.problems]
    return []


def schema_problems(doc: Doc) -> list[str]:
    return admit(doc, CRDS[doc["kind"]])


def changed(relative: str, change: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(example(relative))
    change(doc)
    return doc


def analysis(**fields: object) -> Callable[[Doc], object]:
    return lambda doc: doc["spec"]["analysis"].update(fields)


def drop(*path: str) -> Callable[[Doc], object]:
    def change(doc: Doc) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def metric(index: int, **fields: object) -> Callable[[Doc], object]:
    def change(doc: Doc) -> None:
        target = doc["spec"]["analysis"]["metrics"][index]
        for key, value in fields.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value

    return change


def webhook(index: int, **fields: object) -> Callable[[Doc], object]:
    return lambda doc: doc["spec"]["analysis"]["webhooks"][index].update(fields)


WORKSHOP = "workshop/canary.yaml"
GATED = "canaries/gated-with-load.yaml"
AB = "canaries/ab-testing.yaml"
TEMPLATE = "canaries/metric-template.yaml"
PROVIDER = "canaries/alert-provider.yaml"


def _dup_metric(doc: Doc) -> None:
    doc["spec"]["analysis"]["metrics"].append(dict(doc["spec"]["analysis"]["metrics"][0]))


def _dup_webhook(doc: Doc) -> None:
    doc["spec"]["analysis"]["webhooks"].append(dict(doc["spec"]["analysis"]["webhooks"][0]))


def _header(**match: str) -> Callable[[Doc], object]:
    return lambda doc: doc["spec"]["analysis"]["match"][0].update({"headers": {"x": match}})


CASES: dict[str, Doc] = {
    "workshop": example(WORKSHOP),
    "gated": example(GATED),
    "ab-testing": example(AB),
    "blue-green": example("canaries/blue-green.yaml"),
    "metric template": example(TEMPLATE),
    "alert provider": example(PROVIDER),
    "stepWeight 200": changed(WORKSHOP, analysis(stepWeight=200)),
    "stepWeight 0": changed(WORKSHOP, analysis(stepWeight=0)),
    "stepWeight and stepWeights": changed(WORKSHOP, analysis(stepWeights=[10, 20])),
    "stepWeights decreasing": changed(GATED, analysis(stepWeights=[20, 10])),
    "stepWeights repeated": changed(GATED, analysis(stepWeights=[20, 20, 40])),
    "stepWeights empty": changed(GATED, analysis(stepWeights=[])),
    "stepWeights over 100": changed(GATED, analysis(stepWeights=[50, 101])),
    "no strategy": changed(WORKSHOP, drop("spec", "analysis", "stepWeight")),
    "blue/green by iterations": changed(
        WORKSHOP, lambda d: d["spec"]["analysis"].update(iterations=5, stepWeight=None)
    ),
    "match without iterations": changed(AB, analysis(iterations=0, stepWeight=10)),
    "match empty header": changed(AB, _header()),
    "match two kinds": changed(AB, _header(exact="a", prefix="b")),
    "match prefix": changed(AB, _header(prefix="b")),
    "interval 5s": changed(WORKSHOP, analysis(interval="5s")),
    "interval 1s": changed(WORKSHOP, analysis(interval="1s")),
    "interval 500ms": changed(WORKSHOP, analysis(interval="500ms")),
    "interval 10s": changed(WORKSHOP, analysis(interval="10s")),
    "interval 1m30s": changed(WORKSHOP, analysis(interval="1m30s")),
    "interval 9s999ms": changed(WORKSHOP, analysis(interval="9s999ms")),
    "interval 90": changed(WORKSHOP, analysis(interval="90")),
    "interval 1x": changed(WORKSHOP, analysis(interval="1x")),
    "interval empty": changed(WORKSHOP, analysis(interval="")),
    "negative threshold": changed(WORKSHOP, analysis(threshold=-1)),
    "maxWeight 0": changed(WORKSHOP, analysis(maxWeight=0)),
    "mirrorWeight 101": changed(WORKSHOP, analysis(mirrorWeight=101)),
    "unknown analysis field": changed(WORKSHOP, analysis(stepWieght=10)),
    "webhook type unknown": changed(GATED, webhook(0, type="pre-deploy")),
    "webhook type empty": changed(GATED, webhook(0, type="")),
    "webhook url ftp": changed(GATED, webhook(0, url="ftp://loadtester/")),
    "webhook url missing": changed(
        GATED, lambda d: d["spec"]["analysis"]["webhooks"][0].pop("url")
    ),
    "webhook timeout bad": changed(GATED, webhook(0, timeout="30 seconds")),
    "webhook retries negative": changed(GATED, webhook(0, retries=-1)),
    "webhook names repeated": changed(GATED, _dup_webhook),
    "metric names repeated": changed(WORKSHOP, _dup_metric),
    "custom metric without query": changed(WORKSHOP, metric(0, name="latency")),
    "custom metric with query": changed(WORKSHOP, metric(0, name="latency", query="up")),
    "query and templateRef": changed(GATED, metric(2, query="up")),
    "empty query with templateRef": changed(GATED, metric(2, query="")),
    "empty query, custom name": changed(WORKSHOP, metric(0, name="latency", query="")),
    "no threshold": changed(WORKSHOP, metric(0, thresholdRange=None)),
    "deprecated threshold": changed(WORKSHOP, metric(0, thresholdRange=None, threshold=99)),
    "empty thresholdRange": changed(WORKSHOP, metric(0, thresholdRange={})),
    "min above max": changed(WORKSHOP, metric(0, thresholdRange={"min": 5, "max": 1})),
    "min equals max": changed(WORKSHOP, metric(0, thresholdRange={"min": 1, "max": 1})),
    "metric interval bad": changed(WORKSHOP, metric(0, interval="2q")),
    "no targetRef": changed(WORKSHOP, drop("spec", "targetRef")),
    "targetRef DaemonSet": changed(
        WORKSHOP, lambda d: d["spec"]["targetRef"].update(kind="DaemonSet")
    ),
    "targetRef without name": changed(WORKSHOP, drop("spec", "targetRef", "name")),
    "provider linkerd": changed(WORKSHOP, lambda d: d["spec"].update(provider="linkerd")),
    "provider istio": changed(WORKSHOP, lambda d: d["spec"].update(provider="istio")),
    "match suffix": changed(AB, _header(suffix="b")),
    "ingressRef": changed(
        WORKSHOP, lambda d: d["spec"].update(ingressRef={"kind": "Ingress", "name": "x"})
    ),
    "service apex metadata": changed(
        WORKSHOP, lambda d: d["spec"]["service"].update(apex={"labels": {"a": "b"}})
    ),
    "service gatewayRefs": changed(
        WORKSHOP, lambda d: d["spec"]["service"].update(gatewayRefs=[{"name": "gw"}])
    ),
    "provider gatewayapi": changed(
        WORKSHOP,
        lambda d: (
            d["spec"].update(provider="gatewayapi:v1"),
            d["spec"]["service"].update(gatewayRefs=[{"name": "gw"}], hosts=["app.example"]),
        ),
    ),
    "provider gatewayapi without gatewayRefs": changed(
        WORKSHOP, lambda d: d["spec"].update(provider="gatewayapi")
    ),
    "service headless": changed(WORKSHOP, lambda d: d["spec"]["service"].update(headless=True)),
    "delegation with hosts": changed(
        WORKSHOP, lambda d: d["spec"]["service"].update(delegation=True)
    ),
    "delegation alone": changed(
        WORKSHOP,
        lambda d: d["spec"]["service"].update(delegation=True, hosts=None, gateways=None),
    ),
    "session affinity": changed(WORKSHOP, analysis(sessionAffinity={"cookieName": "c"})),
    "session affinity sameSite": changed(
        WORKSHOP, analysis(sessionAffinity={"cookieName": "c", "sameSite": "Sometimes"})
    ),
    "autoscaler ScaledObject": changed(
        WORKSHOP,
        lambda d: d["spec"].update(autoscalerRef={"kind": "ScaledObject", "name": "x"}),
    ),
    "autoscaler primaryScalerQueries": changed(
        WORKSHOP,
        lambda d: d["spec"].update(
            autoscalerRef={"name": "x", "primaryScalerQueries": {"a": "up"}}
        ),
    ),
    "autoscaler primaryScalerReplicas": changed(
        WORKSHOP,
        lambda d: d["spec"].update(
            autoscalerRef={"name": "x", "primaryScalerReplicas": {"minReplicas": 2}}
        ),
    ),
    "webhook disableTLS": changed(GATED, webhook(0, disableTLS=True)),
    "port 0": changed(WORKSHOP, lambda d: d["spec"]["service"].update(port=0)),
    "port 70000": changed(WORKSHOP, lambda d: d["spec"]["service"].update(port=70000)),
    "targetPort by name": changed(
        WORKSHOP, lambda d: d["spec"]["service"].update(targetPort="http")
    ),
    "targetPort float": changed(WORKSHOP, lambda d: d["spec"]["service"].update(targetPort=1.5)),
    "trafficPolicy passed through": changed(
        WORKSHOP,
        lambda d: d["spec"]["service"].update(trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}}),
    ),
    "progressDeadlineSeconds 0": changed(
        WORKSHOP, lambda d: d["spec"].update(progressDeadlineSeconds=0)
    ),
    "alert severity critical": changed(
        GATED, lambda d: d["spec"]["analysis"]["alerts"][0].update(severity="critical")
    ),
    "session affinity maxAge 0": changed(
        WORKSHOP, analysis(sessionAffinity={"cookieName": "c", "maxAge": 0})
    ),
    "no spec": changed(WORKSHOP, drop("spec")),
    "template provider datadog": changed(
        TEMPLATE, lambda d: d["spec"]["provider"].update(type="datadog")
    ),
    "template without provider": changed(TEMPLATE, drop("spec", "provider")),
    "template empty query": changed(TEMPLATE, lambda d: d["spec"].update(query="")),
    "template without query": changed(TEMPLATE, drop("spec", "query")),
    "provider type pagerduty": changed(PROVIDER, lambda d: d["spec"].update(type="pagerduty")),
    "provider without address": changed(PROVIDER, drop("spec", "secretRef")),
    "provider empty address": changed(
        PROVIDER, lambda d: (d["spec"].pop("secretRef"), d["spec"].update(address=""))
    ),
    "provider with address": changed(
        PROVIDER,
        lambda d: (d["spec"].pop("secretRef"), d["spec"].update(address="https://hooks/x")),
    ),
    "provider webhook type": changed(PROVIDER, lambda d: d["spec"].update(type="webhook")),
}


def _fix_blue_green(doc: Doc) -> None:
    doc["spec"]["analysis"].pop("stepWeight", None)


_fix_blue_green(CASES["blue/green by iterations"])


@pytest.mark.parametrize("name", CASES)
def test_the_schema_gives_the_models_verdict(name: str) -> None:
    doc = CASES[name]
    by_model, by_schema = model_problems(doc), schema_problems(doc)
    assert bool(by_model) == bool(by_schema), f"model: {by_model}; schema: {by_schema}"
    for path in by_model:
        schema_paths = [problem.partition(":")[0] for problem in by_schema]
        assert any(p.startswith(path) or path.startswith(p) for p in schema_paths), (
            f"model names {path!r}; schema: {by_schema}"
        )


def test_the_cases_cover_both_verdicts() -> None:
    verdicts = [bool(model_problems(doc)) for doc in CASES.values()]
    assert verdicts.count(True) > 30 and verdicts.count(False) > 15


@pytest.mark.parametrize(
    ("name", "doc"),
    [
        ("an integer as a string", changed(WORKSHOP, analysis(stepWeight="20"))),
        ("a duration in quoted spaces", changed(WORKSHOP, analysis(interval=" 1m "))),
        (
            "101 metrics",
            changed(
                WORKSHOP,
                lambda d: d["spec"]["analysis"].update(
                    metrics=[{"name": f"m{n}", "query": "up", "threshold": 1} for n in range(101)]
                ),
            ),
        ),
    ],
)
def test_where_the_schema_is_stricter_than_the_models(name: str, doc: Doc) -> None:
    """Known, deliberate gaps (docs/install.md): pydantic coerces, the API server does not."""
    assert model_problems(doc) == []
    assert schema_problems(doc) != []


def test_every_refinement_lands_in_a_crd_and_every_rule_parses() -> None:
    text = json.dumps([version_schema(crd) for crd in CRDS.values()])
    rules = [rule for rules in MODEL_RULES.values() for rule in rules]
    for rule in rules:
        compile_rule(rule.rule)
        assert rule.message in text
    for extra in FIELD_SCHEMA.values():
        for validation in extra.get("x-kubernetes-validations", []):
            compile_rule(validation["rule"])
            assert validation["rule"] in text


weights = st.integers(min_value=-1, max_value=102)


@settings(max_examples=150, deadline=None)
@given(
    step_weight=st.none() | weights,
    step_weights=st.none() | st.lists(weights, max_size=4),
    iterations=st.none() | st.integers(min_value=-1, max_value=3),
    match=st.none() | st.just([]) | st.just([{"headers": {"x-canary": {"exact": "on"}}}]),
    threshold_range=st.fixed_dictionaries(
        {}, optional={"min": st.integers(-2, 2), "max": st.floats(-2, 2)}
    ),
    interval=st.sampled_from(["1m", "10s", "9s", "1h", "500ms", "1m5s", "x"]),
)
def test_analysis_settings_get_the_same_verdict(
    step_weight: int | None,
    step_weights: list[int] | None,
    iterations: int | None,
    match: list[Doc] | None,
    threshold_range: Doc,
    interval: str,
) -> None:
    doc = example(WORKSHOP)
    fields = {
        "stepWeight": step_weight,
        "stepWeights": step_weights,
        "iterations": iterations,
        "match": match,
        "interval": interval,
    }
    doc["spec"]["analysis"] = {k: v for k, v in fields.items() if v is not None}
    doc["spec"]["analysis"]["metrics"] = [
        {"name": "request-success-rate", "thresholdRange": threshold_range}
    ]
    by_model, by_schema = model_problems(doc), schema_problems(doc)
    assert bool(by_model) == bool(by_schema), f"model: {by_model}; schema: {by_schema}"


def test_the_interval_floor_is_the_controllers() -> None:
    """The CRD and the model accept any duration (as Flagger's CRD); the floor is the
    runtime's --min-interval, checked at admission: 5s is refused with the default floor,
    naming the field, the floor and the fix, and accepted with a floor of 5s."""
    doc = CASES["interval 5s"]
    assert schema_problems(doc) == []
    assert model_problems(doc) == []
    (problem,) = interval_problems(doc, MIN_INTERVAL)
    assert problem.path == "spec.analysis.interval"
    assert "must be at least 10s" in problem.message and "'5s'" in problem.message
    assert "--min-interval" in problem.message
    assert interval_problems(doc, timedelta(seconds=5)) == []


@pytest.mark.parametrize("value", ["90", "1x", "ten seconds", "1.5s"])
def test_a_malformed_interval_gets_one_message(value: str) -> None:
    """Only the pattern answers: no CEL rule can fail to convert the string."""
    problems = schema_problems(changed(WORKSHOP, analysis(interval=value)))
    assert len(problems) == 1, problems
    assert problems[0].startswith("spec.analysis.interval: Invalid value:")
    assert "should match" in problems[0]


@pytest.mark.parametrize("group", ["coalmine.dev", "flagger.app"])
def test_the_operator_fixtures_canary_is_one_a_real_server_accepts(group: str) -> None:
    """The e2e suite's Canary (interval 1s) passes the shipped CRD with strict field
    validation: the cluster variant of the suite can create it on a real API server."""
    crd = next(
        c for c in custom_resource_definitions(group) if c["spec"]["names"]["kind"] == "Canary"
    )
    fixture = canary(api_version=f"{group}/v1beta1")
    assert fixture["spec"]["analysis"]["interval"] == "1s"
    assert admit(fixture, crd) == []
