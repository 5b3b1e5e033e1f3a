"""`coalmine metrics CANARY`: the built-in measurements of primary and canary, side by side."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coalmine.cli.common import StateDir, table
from coalmine.cli.targeting import (
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)

if TYPE_CHECKING:
    from coalmine.targets.base import Target

__all__ = ["metrics", "render"]

LABELS = {
    "request-rate": ("request rate", "req/s"),
    "request-success-rate": ("success rate", "%"),
    "error-rate": ("error rate", "%"),
    "request-duration-avg": ("average duration", "ms"),
    "request-duration": ("p99 duration", "ms"),
    "request-duration-max": ("max duration", "ms"),
}


def metrics(
    canary: Annotated[str, typer.Argument(help="Name of the canary.")],
    state_dir: StateDir,
    interval: Annotated[
        str, typer.Option(help="Window of every measurement, e.g. 30s, 5m.")
    ] = "1m",
    metrics_server: Annotated[
        str | None,
        typer.Option(
            help="Prometheus with the Istio metrics, for a cluster (env COALMINE_PROMETHEUS_URL)."
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table or json.")] = "table",
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Error rate, success rate, average, p99 and max duration, and request rate of the
    primary and the canary, side by side. Locally from Envoy's own stats (or the
    Prometheus of `coalmine up --prometheus`); in a cluster from Prometheus with Istio's
    built-in queries. "no data" says why there is none.

    Example:  coalmine metrics go-demo-7 -n go-demo-7 --interval 30s
    """
    options = target_options(state_dir, context, kubeconfig, namespace)
    server = metrics_server or os.environ.get("COALMINE_PROMETHEUS_URL")

    async def work(target: Target) -> dict[str, Any]:
        server_for_target = server if target.kind == "kubernetes" else metrics_server
        return await target.metrics(target.namespace, canary, interval, server_for_target)

    found = run_on_target(options, work)
    if output == "json":
        typer.echo(json.dumps(found, indent=2))
        return
    typer.echo(render(found))


def render(found: dict[str, Any]) -> str:
    rows = []
    for name, roles in found["metrics"].items():
        label, unit = LABELS.get(name, (name, ""))
        rows.append([label, _value(roles["primary"], unit), _value(roles["canary"], unit)])
    heading = f"over {found['interval']}, from {found['source']}"
    return heading + "\n" + table(["METRIC", "PRIMARY", "CANARY"], rows)


def _value(measured: dict[str, Any], unit: str) -> str:
    value = measured.get("value")
    if value is None:
        return "no data"
    return f"{value:.2f} {unit}".rstrip()
