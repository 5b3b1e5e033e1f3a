"""The Grafana dashboards: generated from the built-in checks, committed, shipped by Helm."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from coalmine.metrics.builtins import MESHES, Role
from coalmine.telemetry.grafana import dashboards, panel_expressions, render
from tests.kube.tools import REPO, run_tool

GRAFANA = REPO / "deploy" / "grafana"
CHART = REPO / "deploy" / "helm" / "coalmine"
LOCAL_CANARY = "local/coalmine-canary-local.json"
TRAFFIC = ("Request rate", "Success rate", "Error rate", "Average duration", "p99", "Maximum")


@pytest.mark.parametrize("path", sorted(dashboards()))
def test_each_committed_dashboard_is_the_generated_one(path: str) -> None:
    assert (GRAFANA / path).read_text() == render(dashboards()[path]), (
        "regenerate: python -m coalmine.telemetry.grafana deploy/grafana"
    )


@pytest.mark.parametrize("path", sorted(dashboards()))
def test_each_dashboard_has_variables_panels_and_queries(path: str) -> None:
    dashboard = json.loads((GRAFANA / path).read_text())
    assert dashboard["uid"].startswith("coalmine-") and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "canary"}
    assert variables["canary"]["query"]["query"].endswith('{namespace="$namespace"}, name)')
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["type"] == "timeseries" and panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert "$namespace" in target["expr"] and "$canary" in target["expr"]
            assert target["expr"].count("(") == target["expr"].count(")")


def test_the_canary_dashboards_draw_primary_and_canary_and_the_analysis() -> None:
    for path, mesh in (
        ("coalmine-canary.json", "istio"),
        ("local/coalmine-canary-local.json", "envoy"),
    ):
        titles = [t for t, _ in panel_expressions(dashboards()[path])]
        for title in (
            "Request rate",
            "Success rate",
            "Error rate",
            "Average duration",
            "p99",
            "Maximum",
        ):
            assert sum(t.startswith(title) for t in titles) == 2, (path, title)  # primary, canary
        for title in ("Canary weight", "Phase", "Failed checks", "Check values"):
            assert any(t.startswith(title) for t in titles), (path, title)
        exprs = [e for _, e in panel_expressions(dashboards()[path])]
        p99 = MESHES[mesh][Role.PRIMARY]["request-duration"]
        assert p99.split("{")[0] in " ".join(exprs)
    istio = " ".join(e for _, e in panel_expressions(dashboards()["coalmine-canary.json"]))
    assert "istio_requests_total" in istio and "envoy_" not in istio
    local = " ".join(
        e for _, e in panel_expressions(dashboards()["local/coalmine-canary-local.json"])
    )
    assert "envoy_cluster_upstream_rq" in local and "istio_" not in local


def test_the_workshop_dashboard_has_its_three_queries() -> None:
    titles = {t for t, _ in panel_expressions(dashboards()["coalmine-workshop.json"])}
    assert titles == {
        "Error rate: primary and canary",
        "Average duration: primary and canary",
        "Maximum duration: primary and canary",
    }


def test_the_chart_ships_the_dashboards_as_sidecar_configmaps() -> None:
    for path in ("coalmine-canary.json", "coalmine-workshop.json"):
        assert (CHART / "dashboards" / path).read_text() == (GRAFANA / path).read_text()
    off = run_tool("helm", "template", "coalmine", str(CHART), "--namespace", "coalmine-system")
    assert "grafana_dashboard" not in off
    on = run_tool(
        "helm", "template", "coalmine", str(CHART), "--namespace", "coalmine-system",
        "--set", "grafana.dashboards.enabled=true",
        "--set", "grafana.dashboards.namespace=monitoring",
    )  # fmt: skip
    maps = [d for d in yaml.safe_load_all(on) if d and d["kind"] == "ConfigMap"]
    assert {m["metadata"]["name"] for m in maps} == {
        "coalmine-dashboard-canary",
        "coalmine-dashboard-workshop",
    }
    for config in maps:
        assert config["metadata"]["namespace"] == "monitoring"
        assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config["metadata"]["annotations"] == {"grafana_folder": "coalmine"}
        [(name, text)] = config["data"].items()
        assert json.loads(text) == json.loads((GRAFANA / name).read_text())
    assert re.search(r"helm.sh/chart: coalmine-", on)
