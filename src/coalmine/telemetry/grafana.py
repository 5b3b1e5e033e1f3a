"""Grafana dashboards, generated from the same PromQL the checks run.

Two dashboards, each for two meshes:

    coalmine-canary     primary against canary (request rate, success and error rate,
                        average, p99 and maximum duration) from the mesh's metrics, and the
                        analysis (weight, phase, failed checks, check values) from coalmine_*
    coalmine-workshop   the workshop's three queries: error rate, average and maximum duration

The Istio ones (`deploy/grafana/*.json`, shipped by the Helm chart) read the sidecars'
`istio_*` series; the local ones (`deploy/grafana/local/*.json`) read Envoy's own series
as scraped by `coalmine up --prometheus`. Both come from `metrics.builtins.MESHES`, so a
panel draws exactly what a check of that name measures. Write them with:

    python -m coalmine.telemetry.grafana deploy/grafana
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coalmine.metrics.builtins import MESHES, REQUEST_RATE, Role

__all__ = ["DASHBOARDS", "dashboards", "expressions", "panel_expressions", "write"]

Obj = dict[str, Any]

VARIABLES = {
    "{{ namespace }}": "$namespace",
    "{{ target }}": "$canary",
    "{{ service }}": "$canary",
    "{{ interval }}": "$__rate_interval",
}
"""Template variables of the built-in checks, as Grafana variables."""

TRAFFIC_PANELS = (
    (REQUEST_RATE, "Request rate", "reqps"),
    ("request-success-rate", "Success rate", "percent"),
    ("error-rate", "Error rate", "percent"),
    ("request-duration-avg", "Average duration", "ms"),
    ("request-duration", "p99 duration", "ms"),
    ("request-duration-max", "Maximum duration", "ms"),
)

WORKSHOP_PANELS = (
    ("error-rate", "Error rate", "percent"),
    ("request-duration-avg", "Average duration", "ms"),
    ("request-duration-max", "Maximum duration", "ms"),
)

ANALYSIS_PANELS: tuple[tuple[str, str, list[tuple[str, str]]], ...] = (
    (
        "Canary weight",
        "percent",
        [
            ('coalmine_canary_weight{namespace="$namespace",workload="$canary"}', "canary"),
            (
                'coalmine_canary_weight{namespace="$namespace",workload="$canary-primary"}',
                "primary",
            ),
        ],
    ),
    (
        "Phase (0 running, 1 succeeded or idle, 2 failed)",
        "none",
        [('coalmine_canary_status{namespace="$namespace",name="$canary"}', "phase")],
    ),
    (
        "Failed checks",
        "none",
        [('coalmine_canary_failed_checks{namespace="$namespace",name="$canary"}', "failed")],
    ),
    (
        "Check values",
        "none",
        [
            (
                'coalmine_canary_metric_analysis{namespace="$namespace",name="$canary"}',
                "{{metric}}",
            )
        ],
    ),
)

MESH_TITLES = {"istio": "Istio", "envoy": "coalmine up --prometheus (Envoy)"}


def _builtin(mesh: str, metric: str, role: Role) -> str:
    query = MESHES[mesh][role][metric]
    for template, variable in VARIABLES.items():
        query = query.replace(template, variable)
    return query


def _target(expr: str, legend: str, ref: str) -> Obj:
    return {
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
    }


def _panel(panel_id: int, title: str, unit: str, targets: list[Obj], x: int, y: int) -> Obj:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": targets,
    }


def _row(panel_id: int, title: str, y: int) -> Obj:
    return {
        "id": panel_id,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        "panels": [],
    }


def _templating() -> Obj:
    def query_variable(name: str, label: str, query: str) -> Obj:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": f"{name}-values"},
            "definition": query,
            "refresh": 2,
            "sort": 1,
            "includeAll": False,
            "multi": False,
        }

    return {
        "list": [
            {
                "name": "datasource",
                "label": "Prometheus",
                "type": "datasource",
                "query": "prometheus",
                "refresh": 1,
            },
            query_variable(
                "namespace", "namespace", "label_values(coalmine_canary_status, namespace)"
            ),
            query_variable(
                "canary",
                "canary (target Deployment)",
                'label_values(coalmine_canary_status{namespace="$namespace"}, name)',
            ),
        ]
    }


def _dashboard(uid: str, title: str, panels: list[Obj], description: str) -> Obj:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["coalmine", "canary"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": _templating(),
        "annotations": {"list": []},
        "panels": panels,
    }


def _mesh_panels(
    mesh: str, chosen: tuple[tuple[str, str, str], ...], first_id: int, y: int
) -> list[Obj]:
    panels = []
    for index, (metric, title, unit) in enumerate(chosen):
        targets = [
            _target(_builtin(mesh, metric, Role.PRIMARY), "primary", "A"),
            _target(_builtin(mesh, metric, Role.CANARY), "canary", "B"),
        ]
        x, row = (index % 2) * 12, y + (index // 2) * 8
        panels.append(
            _panel(first_id + index, f"{title}: primary and canary", unit, targets, x, row)
        )
    return panels


def canary_dashboard(mesh: str) -> Obj:
    suffix = "" if mesh == "istio" else "-local"
    panels = [_row(1, f"Primary and canary ({MESH_TITLES[mesh]})", 0)]
    panels += _mesh_panels(mesh, TRAFFIC_PANELS, 2, 1)
    y = 1 + 8 * ((len(TRAFFIC_PANELS) + 1) // 2)
    panels.append(_row(20, "Analysis (coalmine)", y))
    for index, (title, unit, queries) in enumerate(ANALYSIS_PANELS):
        targets = [_target(expr, legend, chr(65 + n)) for n, (expr, legend) in enumerate(queries)]
        x, row = (index % 2) * 12, y + 1 + (index // 2) * 8
        panels.append(_panel(21 + index, title, unit, targets, x, row))
    return _dashboard(
        f"coalmine-canary{suffix}",
        f"coalmine: canary analysis ({MESH_TITLES[mesh]})",
        panels,
        "The primary against the canary, with the queries coalmine's built-in checks run,"
        " and the analysis as coalmine records it.",
    )


def workshop_dashboard(mesh: str) -> Obj:
    suffix = "" if mesh == "istio" else "-local"
    panels = [_row(1, f"The workshop's three queries ({MESH_TITLES[mesh]})", 0)]
    panels += _mesh_panels(mesh, WORKSHOP_PANELS, 2, 1)
    return _dashboard(
        f"coalmine-workshop{suffix}",
        f"coalmine: error rate and durations ({MESH_TITLES[mesh]})",
        panels,
        "The reference workshop's queries: error rate, average and maximum request duration.",
    )


DASHBOARDS: dict[str, Callable[[], Obj]] = {
    "coalmine-canary.json": lambda: canary_dashboard("istio"),
    "coalmine-workshop.json": lambda: workshop_dashboard("istio"),
    "local/coalmine-canary-local.json": lambda: canary_dashboard("envoy"),
    "local/coalmine-workshop-local.json": lambda: workshop_dashboard("envoy"),
}
"""Where each dashboard lives under deploy/grafana/."""


def dashboards() -> dict[str, Obj]:
    return {path: make() for path, make in DASHBOARDS.items()}


def panel_expressions(dashboard: Obj) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def expressions(dashboard: Obj, variables: dict[str, str]) -> list[tuple[str, str]]:
    """Every panel's PromQL with the dashboard's variables filled in."""
    filled = []
    for title, expr in panel_expressions(dashboard):
        for name in sorted(variables, key=len, reverse=True):
            expr = expr.replace(f"${name}", variables[name])
        filled.append((title, expr))
    return filled


def render(dashboard: Obj) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def write(root: Path) -> list[Path]:
    written = []
    for path, dashboard in dashboards().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(dashboard))
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "deploy/grafana")):
        print(path)
