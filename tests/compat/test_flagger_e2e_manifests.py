"""Flagger's own end-to-end manifests (tests/compat/flagger, see NOTICE.md) in coalmine.

- Every MetricTemplate validates unchanged.
- Every Istio Canary validates unchanged.
- Every Gateway API Canary validates unchanged, with and without `provider: gatewayapi:v1`.
- kubernetes-provider Canaries validate unchanged, but for their DaemonSet targets.
- `coalmine simulate` gives Flagger's verdict on each Istio Canary: good values promote,
  a success rate under its minimum or a latency over its maximum rolls back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from coalmine.api import Canary, load_file
from coalmine.api.loading import parse_resource
from coalmine.cli.main import app
from coalmine.errors import ManifestError

FLAGGER = Path(__file__).parent / "flagger"
ISTIO = sorted((FLAGGER / "istio").glob("canary-*.yaml"))
TEMPLATES = sorted(FLAGGER.glob("*/metrictemplate-*.yaml"))
RUNNABLE = ISTIO
runner = CliRunner()


def validate(path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", "-f", str(path)])
    return result.exit_code, result.output


def test_the_suite_has_every_manifest_of_the_scripts() -> None:
    assert len(ISTIO) == 8
    assert len(TEMPLATES) == 6
    assert (len(GATEWAY_API), len(KUBERNETES)) == (5, 4)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_metric_template_validates_unchanged(path: Path) -> None:
    code, output = validate(path)
    assert code == 0, output
    assert "1 document(s) valid" in output


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_every_istio_canary_validates_unchanged(path: Path) -> None:
    code, output = validate(path)
    assert code == 0, output
    assert "canary podinfo is valid" in output


GATEWAY_API = sorted((FLAGGER / "gatewayapi").glob("canary-*.yaml"))
KUBERNETES = sorted((FLAGGER / "kubernetes").glob("canary-*.yaml"))


def problems_of(doc: dict[str, Any]) -> list[str]:
    try:
        parse_resource(doc)
    except ManifestError as error:
        return [str(problem) for problem in error.problems]
    return []


@pytest.mark.parametrize("path", GATEWAY_API, ids=lambda p: p.name)
def test_gateway_api_canaries_validate_unchanged(path: Path) -> None:
    """Flagger runs them with `-mesh-provider=gatewayapi:v1`; coalmine takes them as they
    are, and with the provider written in the Canary (which checks what an HTTPRoute can
    carry: `api.canary.gateway_api_problems`)."""
    doc = yaml.safe_load(path.read_text())
    assert problems_of(doc) == []
    doc["spec"]["provider"] = "gatewayapi:v1"
    assert problems_of(doc) == []


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_kubernetes_provider_canaries_validate_unchanged_but_for_daemonset_targets(
    path: Path,
) -> None:
    """Flagger's kubernetes-provider Canaries are blue/green (iterations) with its built-in
    checks: they validate as they are; a DaemonSet target is refused on its own."""
    doc = yaml.safe_load(path.read_text())
    found = problems_of(doc)
    if doc["spec"]["targetRef"]["kind"] == "DaemonSet":
        [problem] = found
        assert "spec.targetRef: kind 'DaemonSet' is not supported yet" in problem
        doc["spec"]["targetRef"]["kind"] = "Deployment"
        assert problems_of(doc) == []
    else:
        assert found == []


def test_a_templates_legacy_threshold_is_a_maximum_even_for_a_success_rate(
    tmp_path: Path,
) -> None:
    """test/linkerd/test-canary.sh puts `threshold: 99` on its success-rate *template*.
    Flagger compares a template's legacy threshold as a maximum, whatever it measures
    (scheduler_metrics.go, runMetricChecks), so a 100 % success rate halts there; coalmine
    gives the same verdict. Write `thresholdRange: {min: 99}` to mean a minimum."""
    doc = yaml.safe_load((FLAGGER / "linkerd" / "canary-progressive.yaml").read_text())
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, output = simulate(path, {"success-rate": "98", "latency": "120"})
    assert code == 0, output
    code, output = simulate(path, {"success-rate": "100", "latency": "120"})
    assert code == 1 and "success-rate 100.00 > 99" in output, output


def test_the_legacy_threshold_of_flaggers_blue_green_manifest_gets_flaggers_verdict(
    tmp_path: Path,
) -> None:
    """test/gatewayapi/test-bg.sh writes `request-duration: threshold: 500`: a maximum."""
    doc = yaml.safe_load((FLAGGER / "gatewayapi" / "canary-bluegreen.yaml").read_text())
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump(doc))
    fast = {"request-success-rate": "99.5", "request-duration": "120"}
    code, output = simulate(path, fast)
    assert code == 0, output
    code, output = simulate(path, {**fast, "request-duration": "600"})
    assert code == 1 and "request-duration 600.00 > 500" in output, output


FLAGGER_PROVIDERS = [
    "apisix",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gloo",
    "knative",
    "kuma",
    "linkerd",
    "nginx",
    "osm",
    "skipper",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "traefik",
]
"""Every provider of Flagger's CRD enum but istio, kubernetes and the gatewayapi ones."""


@pytest.mark.parametrize("provider", FLAGGER_PROVIDERS)
def test_unsupported_providers_are_refused_with_one_message(provider: str, tmp_path: Path) -> None:
    text = (FLAGGER / "istio" / "canary-progressive.yaml").read_text()
    path = tmp_path / "canary.yaml"
    path.write_text(text.replace("spec:\n", f"spec:\n  provider: {provider}\n", 1))
    code, output = validate(path)
    assert code != 0
    assert (
        f"spec.provider: provider {provider!r} is not supported; supported providers: istio,"
        " kubernetes, gatewayapi, gatewayapi:v1, gatewayapi:v1beta1, envoy"
    ) in output


def canary_in(path: Path) -> Canary:
    [canary] = [r for r in load_file(path).resources if isinstance(r, Canary)]
    return canary


GOOD = {"request-success-rate": "99.5", "latency": "120"}
"""Within Flagger's ranges in these manifests: success rate >= 99, latency <= 500."""


def simulate(path: Path, values: dict[str, str]) -> tuple[int, str]:
    names = {metric.name for metric in canary_in(path).spec.analysis.metrics}
    options = [arg for name in sorted(names) for arg in ("-m", f"{name}={values[name]}")]
    result = runner.invoke(app, ["simulate", "-f", str(path), *options])
    return result.exit_code, result.output


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_good_values_promote_every_istio_canary(path: Path) -> None:
    code, output = simulate(path, GOOD)
    assert code == 0, output
    assert output.rstrip().endswith("-- verdict: promoted")


WITH_METRICS = [path for path in RUNNABLE if canary_in(path).spec.analysis.metrics]


@pytest.mark.parametrize("path", WITH_METRICS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("metric", "value", "message"),
    [
        ("request-success-rate", "98", "request-success-rate 98.00 < 99"),
        ("latency", "501", "latency 501.00 > 500"),
    ],
)
def test_a_value_outside_its_range_rolls_back(
    path: Path, metric: str, value: str, message: str
) -> None:
    code, output = simulate(path, {**GOOD, metric: value})
    assert code == 1, output
    assert message in output
    assert "verdict: not promoted (Failed)" in output
