"""Deployments, Services and Istio objects as the local runtime reads them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from coalmine.api.loading import LOCAL_RESOURCES, load_text
from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.cli.main import app

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  replicas: 2
  selector: {matchLabels: {app: go-demo-7}}
  template:
    metadata: {labels: {app: go-demo-7}}
    spec:
      containers:
      - name: app
        command: [python, -m, coalmine.demo]
        env: [{name: VERSION, value: "0.0.1"}]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: "/demo/hello?health=true", port: 8080}}
"""

VIRTUAL_SERVICE = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: go-demo-7, namespace: go-demo-7}
spec:
  hosts: ["*"]
  gateways: [go-demo-7]
  http:
  - route:
    - destination: {host: go-demo-7, subset: primary}
      weight: 80
    - destination: {host: go-demo-7, subset: canary}
      weight: 20
"""


def problems(text: str) -> list[str]:
    return [str(p) for p in load_text(text, kinds=LOCAL_RESOURCES).problems]


def test_a_deployment_loads_and_its_template_has_a_revision() -> None:
    [deployment] = load_text(DEPLOYMENT, kinds=LOCAL_RESOURCES).resources
    assert isinstance(deployment, Deployment)
    revision = pod_template_hash(deployment.spec.template)
    changed = DEPLOYMENT.replace('value: "0.0.1"', 'value: "0.0.2"')
    [other] = load_text(changed, kinds=LOCAL_RESOURCES).resources
    assert isinstance(other, Deployment)
    assert pod_template_hash(other.spec.template) != revision
    rescaled = DEPLOYMENT.replace("replicas: 2", "replicas: 5")
    [same] = load_text(rescaled, kinds=LOCAL_RESOURCES).resources
    assert isinstance(same, Deployment)
    assert pod_template_hash(same.spec.template) == revision


def test_kubernetes_fields_the_local_runtime_cannot_honour_are_named() -> None:
    text = DEPLOYMENT.replace("ports: [", "resources: {limits: {cpu: 1}}\n        ports: [")
    assert problems(text) == [
        "deployment go-demo-7: spec.template.spec.containers[0].resources: not supported by"
        " the local runtime (coalmine up); remove it, or use Kubernetes"
    ]


def test_a_deployment_needs_a_command() -> None:
    text = DEPLOYMENT.replace("        command: [python, -m, coalmine.demo]\n", "")
    assert problems(text) == [
        "deployment go-demo-7: spec.template.spec.containers[0].command: required field is missing"
    ]


def test_the_selector_must_match_the_template() -> None:
    text = DEPLOYMENT.replace("matchLabels: {app: go-demo-7}", "matchLabels: {app: other}")
    [problem] = problems(text)
    assert (
        "spec: selector.matchLabels {'app': 'other'} must match template.metadata.labels" in problem
    )


def test_virtual_service_weights_must_add_up_to_100() -> None:
    assert problems(VIRTUAL_SERVICE) == []
    assert problems(VIRTUAL_SERVICE.replace("weight: 20", "weight: 30")) == [
        "virtualservice go-demo-7: spec.http[0]: route weights must add up to 100 when there"
        " are several destinations, got [80, 30]"
    ]


def test_tcp_routes_are_not_supported_locally() -> None:
    text = VIRTUAL_SERVICE.replace("  http:\n", "  tcp: []\n  http:\n")
    assert problems(text) == [
        "virtualservice go-demo-7: spec.tcp: not supported by the local runtime (coalmine up);"
        " remove it, or use Kubernetes"
    ]


def test_validate_skips_other_kinds_unless_asked(tmp_path: Path) -> None:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(DEPLOYMENT + "---" + VIRTUAL_SERVICE.replace("weight: 20", "weight: 30"))
    runner = CliRunner()
    plain = runner.invoke(app, ["validate", "-f", str(manifest)])
    assert plain.exit_code == 0
    assert "deployment go-demo-7 skipped (not a coalmine resource; see --local)" in plain.output
    local = runner.invoke(app, ["validate", "--local", "-f", str(manifest)])
    assert local.exit_code == 1
    assert "route weights must add up to 100" in local.output
