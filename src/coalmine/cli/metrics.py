"""`coalmine metrics CANARY`: the built-in measurements of primary and canary, side by side."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from coalmine.cli.common import Namespace, StateDir, client, table

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
    namespace: Namespace = "default",
    interval: Annotated[
        str, typer.Option(help="Window of every measurement, e.g. 30s, 5m.")
    ] = "1m",
    output: Annotated[str, typer.Option("-o", "--output", help="table or json.")] = "table",
) -> None:
    """Error rate, success rate, average, p99 and max duration, and request rate of the
    primary and the canary, from the local runtime's source (Envoy's own stats, or the
    Prometheus of `coalmine up --prometheus`). "no data" says why there is none.

    Example:  coalmine metrics go-demo-7 -n go-demo-7 --interval 30s
    """
    found = client(state_dir).metrics(namespace, canary, interval)
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
