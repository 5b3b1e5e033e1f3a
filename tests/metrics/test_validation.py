"""`coalmine validate` reports template variables that are unknown or not set."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from coalmine.cli.main import app

TEMPLATE = """
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: error-rate
  namespace: go-demo-7
spec:
  provider:
    type: prometheus
    address: http://prometheus.istio-system:9090
  query: |
    100 - sum(rate(istio_requests_total{
        destination_workload_namespace="{{ namespace }}",
        destination_workload=~"{{ target }}",
        request_path="{{ variables.route }}",
        response_code!~"5.*"}[{{ interval }}]))
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: go-demo-7
  namespace: go-demo-7
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: go-demo-7}
  service: {port: 80}
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 20
    maxWeight: 60
    metrics:
      - name: error-rate
        templateRef: {name: error-rate}
        thresholdRange: {max: 1}
{extra}
"""


def run(tmp_path: Path, **files: str) -> tuple[int, str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    result = CliRunner().invoke(app, ["validate", "-f", str(tmp_path)])
    return result.exit_code, result.output


def test_template_variable_not_set_by_the_canary_is_reported(tmp_path: Path) -> None:
    code, output = run(tmp_path, template=TEMPLATE, canary=CANARY.replace("{extra}", ""))
    assert code == 1
    assert (
        "canary go-demo-7: spec.analysis.metrics[0].templateVariables: "
        "template error-rate uses variables.route, which is not set"
    ) in output
    assert "metrictemplate error-rate is valid" in output
    assert "canary go-demo-7 is valid" not in output
    assert "1 problem(s) in 2 document(s)" in output


def test_set_template_variables_make_it_valid(tmp_path: Path) -> None:
    extra = "        templateVariables: {route: /demo/hello}"
    code, output = run(tmp_path, template=TEMPLATE, canary=CANARY.replace("{extra}", extra))
    assert code == 0, output
    assert "2 document(s) valid" in output


def test_a_template_that_is_not_among_the_files_is_not_judged(tmp_path: Path) -> None:
    code, output = run(tmp_path, canary=CANARY.replace("{extra}", ""))
    assert code == 0, output


def test_unknown_variable_in_a_template_is_reported(tmp_path: Path) -> None:
    broken = TEMPLATE.replace("{{ target }}", "{{ targt }}")
    extra = "        templateVariables: {route: /demo/hello}"
    code, output = run(tmp_path, template=broken, canary=CANARY.replace("{extra}", extra))
    assert code == 1
    assert (
        "metrictemplate error-rate: spec.query: unknown variable {{ targt }}; "
        "did you mean {{ target }}? valid variables are"
    ) in output
    assert "1 problem(s)" in output


def test_inline_queries_are_checked_the_same_way(tmp_path: Path) -> None:
    canary = CANARY.replace("{extra}", "").replace(
        "templateRef: {name: error-rate}",
        'query: \'sum(rate(x{ns="{{ namespaces }}",r="{{ variables.route }}"}[1m]))\'',
    )
    code, output = run(tmp_path, canary=canary)
    assert code == 1
    assert (
        "canary go-demo-7: spec.analysis.metrics[0].query: unknown variable {{ namespaces }}"
    ) in output
    assert (
        "canary go-demo-7: spec.analysis.metrics[0].templateVariables: "
        "query uses variables.route, which is not set"
    ) in output


def test_a_value_that_would_change_the_query_is_reported(tmp_path: Path) -> None:
    template = TEMPLATE.replace('request_path="{{ variables.route }}"', "le={{ variables.route }}")
    extra = "        templateVariables: {route: '1) or vector(1'}"
    code, output = run(tmp_path, template=template, canary=CANARY.replace("{extra}", extra))
    assert code == 1
    assert "spec.analysis.metrics[0].templateVariables: template error-rate: " in output
    assert "is outside a quoted string" in output
