"""A stored Canary to the engine's model: every problem named; a status never in the way."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coalmine.api.canary import Phase
from coalmine.errors import ManifestError
from coalmine.kube.runtime.validation import LastParse, parse_canary
from tests.fixtures.operator import canary

FLOOR = timedelta(seconds=10)


def test_the_interval_floor_and_every_other_problem_are_reported() -> None:
    body = canary(analysis={"interval": "1s", "stepWeight": 120})

    with pytest.raises(ManifestError) as raised:
        parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=False)

    paths = [problem.path for problem in raised.value.problems]  # the model's, then ours
    assert paths == ["spec.analysis.stepWeight", "spec.analysis.interval"]
    assert "must be at least 10s" in str(raised.value)


def test_cross_namespace_references_need_the_controller_setting() -> None:
    analysis = canary()["spec"]["analysis"]
    analysis["interval"] = "10s"
    analysis["metrics"].append(
        {"name": "latency", "templateRef": {"name": "latency", "namespace": "istio-system"},
         "thresholdRange": {"max": 1}}
    )  # fmt: skip
    analysis["alerts"] = [
        {"name": "team", "providerRef": {"name": "slack", "namespace": "test"}},
        {"name": "ops", "providerRef": {"name": "pager", "namespace": "ops"}},
    ]
    body = canary(analysis=analysis)

    with pytest.raises(ManifestError) as raised:
        parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=False)
    allowed = parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=True)

    assert [p.path for p in raised.value.problems] == [
        "spec.analysis.metrics[2].templateRef.namespace",
        "spec.analysis.alerts[1].providerRef.namespace",
    ]
    assert "--allow-cross-namespace-refs" in str(raised.value)
    assert len(allowed.spec.analysis.metrics) == 3


def test_a_provider_the_operator_has_no_router_for_is_a_problem_naming_its_routers() -> None:
    body = canary(analysis={"interval": "10s", "stepWeight": 20})
    body["spec"]["provider"] = "envoy"

    with pytest.raises(ManifestError) as raised:
        parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=False)

    (problem,) = raised.value.problems
    assert problem.path == "spec.provider"
    assert problem.message == (
        "provider 'envoy' has no router in Kubernetes; routers: istio, kubernetes, gatewayapi,"
        " gatewayapi:v1, gatewayapi:v1beta1."
    )
    body["spec"]["provider"] = "istio"
    assert parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=False).spec.provider


def test_a_status_written_by_someone_else_is_read_as_far_as_it_can_be() -> None:
    body = canary(analysis={**canary()["spec"]["analysis"], "interval": "10s"})
    body["metadata"]["annotations"] = {"coalmine.dev/last-handled-configuration": "{}"}
    body["status"] = {
        "phase": "Progressing",
        "canaryWeight": 40,
        "trackedConfigs": {"secret/db": "abc"},
        "failedChecks": "many",  # unreadable: dropped, not fatal
        "observedGeneration": 3,  # unknown: dropped
    }

    parsed = parse_canary(body, min_interval=FLOOR, allow_cross_namespace_refs=False)

    assert parsed.status.phase == Phase.PROGRESSING
    assert (parsed.status.canary_weight, parsed.status.failed_checks) == (40, 0)
    assert parsed.status.tracked_configs == {"secret/db": "abc"}


def test_a_canary_parsed_again_with_only_its_status_changed_reuses_the_parse() -> None:
    parser = LastParse(min_interval=FLOOR, allow_cross_namespace_refs=False)
    body = canary(analysis={"interval": "10s", "stepWeight": 20})
    body["metadata"].update(resourceVersion="7", generation=1)
    first = parser.parse(body)

    body = {**body, "metadata": {**body["metadata"], "resourceVersion": "8"}}
    body["status"] = {"phase": "Progressing", "canaryWeight": 20}
    again = parser.parse(body)

    assert parser.parses == 1
    assert again.metadata.resource_version == "8", "a status write's precondition"
    assert (again.status.phase, again.status.canary_weight) == (Phase.PROGRESSING, 20)
    assert first.status.phase != Phase.PROGRESSING and first.metadata.resource_version == "7"
    assert again.spec == first.spec


def test_a_spec_or_label_changed_even_in_place_or_made_invalid_is_parsed_again() -> None:
    parser = LastParse(min_interval=FLOOR, allow_cross_namespace_refs=False)
    body = canary(analysis={"interval": "10s", "stepWeight": 20})
    parser.parse(body)

    body["spec"]["analysis"]["stepWeight"] = 30  # in place: the parse kept its own copy
    assert parser.parse(body).spec.analysis.step_weight == 30
    body["metadata"]["labels"] = {"team": "a"}
    assert parser.parse(body).metadata.labels == {"team": "a"}
    assert parser.parses == 3

    body["spec"]["analysis"]["stepWeight"] = 120
    with pytest.raises(ManifestError):
        parser.parse(body)
    with pytest.raises(ManifestError):
        parser.parse(body)  # nothing kept of a failed parse
    body["spec"]["analysis"]["stepWeight"] = 30
    assert parser.parse(body).spec.analysis.step_weight == 30
    assert parser.parses == 6
