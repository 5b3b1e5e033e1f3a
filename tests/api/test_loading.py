"""YAML to models: what loads, and the exact words of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.api import AlertProvider, Canary, MetricTemplate, Phase, load_file, load_text
from coalmine.api.loading import LOCAL_RESOURCES

EXAMPLES = Path(__file__).parents[2] / "examples"

CANARY = """
apiVersion: {api}
kind: Canary
metadata: {{name: go-demo-7, namespace: test}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: go-demo-7}}
  service: {{port: 80}}
  analysis:
{analysis}
"""


def canary_text(analysis: str, api: str = "coalmine.dev/v1beta1") -> str:
    body = analysis or "interval: 1m\nstepWeight: 20"
    indented = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return CANARY.format(api=api, analysis=indented)


def problems(text: str) -> list[str]:
    return [str(p) for p in load_text(text, source="canary.yaml").problems]


def test_every_example_is_valid() -> None:
    """examples/ci holds CD pipelines (Jobs, RBAC): tests/e2e/test_ci_examples.py runs them."""
    files = sorted(p for p in EXAMPLES.rglob("*.yaml") if "ci" not in p.relative_to(EXAMPLES).parts)
    assert files
    for path in files:
        assert load_file(path, kinds=LOCAL_RESOURCES).problems == [], path


@pytest.mark.parametrize("api", ["coalmine.dev/v1beta1", "flagger.app/v1beta1"])
def test_both_groups_load_as_the_same_resource(api: str) -> None:
    loaded = load_text(canary_text("", api=api))
    assert loaded.problems == []
    [resource] = loaded.resources
    assert isinstance(resource, Canary)
    assert resource.spec.progress_deadline_seconds == 600
    assert resource.spec.analysis.failure_threshold == 1
    assert resource.status.phase is None


def test_flagger_defaults() -> None:
    [resource] = load_text(canary_text("interval: 1m\nstepWeights: [10, 30]")).resources
    assert isinstance(resource, Canary)
    analysis = resource.spec.analysis
    assert analysis.effective_max_weight == 30
    assert analysis.primary_ready_threshold == analysis.canary_ready_threshold == 100
    assert analysis.strategy == "canary"


def test_step_weights_must_increase() -> None:
    assert problems(canary_text("stepWeights: [20, 10]")) == [
        "canary go-demo-7: spec.analysis.stepWeights: must be increasing and at most 100,"
        " got [20, 10]"
    ]


def test_step_weights_at_most_100() -> None:
    assert problems(canary_text("stepWeights: [20, 120]")) == [
        "canary go-demo-7: spec.analysis.stepWeights[1]: input should be less than or equal"
        " to 100, got 120"
    ]


def test_unknown_field_suggests_the_close_one() -> None:
    assert problems(canary_text("stepWeight: 20\nstepWeigth: 3")) == [
        "canary go-demo-7: spec.analysis.stepWeigth: unknown field; did you mean stepWeight?"
    ]


def test_unknown_field_with_nothing_close_lists_what_is_valid() -> None:
    [problem] = problems(canary_text("stepWeight: 20\nbanana: 1"))
    assert problem.startswith("canary go-demo-7: spec.analysis.banana: unknown field; valid fields")
    assert "stepWeights" in problem and "threshold" in problem


def test_snake_case_names_are_not_accepted_from_yaml() -> None:
    [problem] = problems(canary_text("interval: 1m\nstep_weight: 20\nstepWeight: 5"))
    assert "spec.analysis.step_weight: unknown field; did you mean stepWeight?" in problem


def test_the_interval_must_be_a_duration_and_the_model_knows_no_floor() -> None:
    """The floor is the runtime's (api.interval_floor, checked at admission)."""
    assert problems(canary_text("interval: 5s\nstepWeight: 20")) == []
    assert problems(canary_text("interval: 1h30x\nstepWeight: 20")) == [
        'canary go-demo-7: spec.analysis.interval: must be a duration such as "30s", "1m"'
        " or \"1m30s\", got '1h30x'"
    ]


def test_a_strategy_is_required() -> None:
    assert problems(canary_text("interval: 1m")) == [
        "canary go-demo-7: spec.analysis: set stepWeight or stepWeights (canary),"
        " or iterations (A/B testing, blue/green)"
    ]


def test_metric_needs_a_source_and_a_range() -> None:
    text = canary_text(
        """
stepWeight: 20
metrics:
  - name: latency
    thresholdRange: {max: 5}
  - name: request-success-rate
"""
    )
    assert problems(text) == [
        "canary go-demo-7: spec.analysis.metrics[0]: metric 'latency' needs a query or a"
        " templateRef; built-in metrics are request-success-rate, request-duration, error-rate,"
        " request-duration-avg, request-duration-max",
        "canary go-demo-7: spec.analysis.metrics[1]: set thresholdRange (min, max or both)",
    ]


def test_threshold_range_must_be_ordered() -> None:
    text = canary_text(
        "stepWeight: 20\nmetrics: [{name: request-duration, thresholdRange: {min: 600, max: 3}}]"
    )
    assert problems(text) == [
        "canary go-demo-7: spec.analysis.metrics[0].thresholdRange: min must not exceed max,"
        " got min 600.0 > max 3.0"
    ]


def test_webhook_type_lists_the_valid_ones() -> None:
    text = canary_text("stepWeight: 20\nwebhooks: [{name: a, type: bogus, url: 'http://x/'}]")
    [problem] = problems(text)
    assert problem.startswith("canary go-demo-7: spec.analysis.webhooks[0].type: input should be")
    assert "'confirm-rollout'" in problem and "got 'bogus'" in problem


def test_ab_testing_needs_iterations() -> None:
    text = canary_text("stepWeight: 20\nmatch: [{headers: {user: {exact: x}}}]")
    assert problems(text) == [
        "canary go-demo-7: spec.analysis: match (A/B testing) needs iterations"
    ]


def test_string_match_takes_exactly_one_kind() -> None:
    text = canary_text("iterations: 2\nmatch: [{headers: {user: {exact: x, prefix: y}}}]")
    assert problems(text) == [
        "canary go-demo-7: spec.analysis.match[0].headers.user: set exactly one of exact,"
        " prefix, suffix or regex, got ['exact', 'prefix']"
    ]


def test_target_must_be_a_deployment() -> None:
    text = canary_text("").replace("kind: Deployment", "kind: DaemonSet")
    assert problems(text) == [
        "canary go-demo-7: spec.targetRef: kind 'DaemonSet' is not supported yet: coalmine"
        " ships Deployments only (DaemonSet and Service targets are not implemented); use"
        " kind: Deployment"
    ]


def test_wrong_api_version_and_kind() -> None:
    text = canary_text("").replace("coalmine.dev/v1beta1", "flagger.app/v1")
    assert problems(text) == [
        "canary go-demo-7: apiVersion: must be coalmine.dev/v1beta1 or flagger.app/v1beta1,"
        " got 'flagger.app/v1'"
    ]
    assert problems("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n") == [
        "pod x: kind: must be one of Canary, MetricTemplate, AlertProvider, got 'Pod'"
    ]


def test_missing_required_field() -> None:
    text = canary_text("").replace("  service: {port: 80}\n", "")
    assert problems(text) == ["canary go-demo-7: spec.service: required field is missing"]


def test_yaml_syntax_error_names_the_line() -> None:
    assert problems("kind: Canary\nmetadata: [unclosed\n") == [
        "canary.yaml line 3: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_documents_without_a_name_are_numbered() -> None:
    text = "---\napiVersion: coalmine.dev/v1beta1\nkind: Canary\nmetadata: {}\nspec: {}\n"
    found = problems(text)
    assert found[0].startswith("canary.yaml document 1: metadata.name: required field is missing")


def test_several_documents_several_kinds() -> None:
    text = (
        canary_text("")
        + """
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: error-rate, namespace: test}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: sum(rate(x[{{ interval }}]))
---
apiVersion: coalmine.dev/v1beta1
kind: AlertProvider
metadata: {name: on-call}
spec: {type: slack, channel: releases, address: "https://hooks.slack.com/services/x"}
"""
    )
    loaded = load_text(text)
    assert loaded.problems == []
    assert [type(r) for r in loaded.resources] == [Canary, MetricTemplate, AlertProvider]
    assert loaded.documents == 3


def test_metric_template_rejects_other_providers_by_name() -> None:
    text = """
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: dd}
spec: {provider: {type: datadog}, query: x}
"""
    assert problems(text) == [
        "metrictemplate dd: spec.provider.type: input should be 'prometheus', got 'datadog'"
    ]


def test_status_round_trips_through_yaml() -> None:
    text = canary_text("") + "status: {phase: Progressing, canaryWeight: 40, failedChecks: 1}\n"
    [resource] = load_text(text).resources
    assert isinstance(resource, Canary)
    assert resource.status.phase == Phase.PROGRESSING
    dumped = resource.to_manifest()
    assert dumped["status"]["canaryWeight"] == 40
    assert dumped["spec"]["analysis"]["stepWeight"] == 20
