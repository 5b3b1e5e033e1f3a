"""`coalmine query`: run PromQL against Prometheus and print the answer."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coalmine.cli.common import StateDir

if TYPE_CHECKING:
    from pathlib import Path

    from coalmine.metrics.providers.prometheus import PrometheusProvider
    from coalmine.metrics.results import QueryResult

__all__ = ["DEFAULT_SERVER", "SERVER_ENV", "local_prometheus", "query"]

DEFAULT_SERVER = "http://127.0.0.1:9090"
SERVER_ENV = "COALMINE_PROMETHEUS_URL"
LOCAL_TIMEOUT_SECONDS = 2.0
"""How long to ask a `coalmine up` for its Prometheus before trying the default server."""


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def query(
    promql: Annotated[str, typer.Argument(help="The PromQL expression.", show_default=False)],
    state_dir: StateDir,
    span: Annotated[
        str | None,
        typer.Option(
            "--range",
            help="Run a range query over this past span (10m, 1h) instead of an instant query.",
        ),
    ] = None,
    step: Annotated[str, typer.Option(help="Resolution of a range query.")] = "15s",
    server: Annotated[
        str | None,
        typer.Option(
            envvar=SERVER_ENV,
            help="Prometheus base URL [default: the Prometheus of a running"
            " `coalmine up --prometheus`, else http://127.0.0.1:9090].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="table or json.")] = (
        OutputFormat.TABLE
    ),
    timeout: Annotated[float, typer.Option(help="Seconds the query may take.")] = 5.0,
) -> None:
    """Run a PromQL query, instant or over a range, and print the result.

    The server comes from --server, else the COALMINE_PROMETHEUS_URL environment
    variable, else the Prometheus of a running `coalmine up --prometheus` (for
    --state-dir), else http://127.0.0.1:9090. Exit code 3 when Prometheus cannot be
    reached or does not answer in time, 1 when it rejects the query.

    Example:  coalmine query 'sum(rate(istio_requests_total[1m]))' --range 10m --step 15s
    """
    import asyncio

    from coalmine.api.common import parse_duration
    from coalmine.errors import CoalmineError
    from coalmine.metrics.providers.base import ProviderSettings
    from coalmine.metrics.providers.prometheus import PrometheusProvider

    address = server or local_prometheus(state_dir) or DEFAULT_SERVER
    provider = PrometheusProvider(ProviderSettings(address, timeout=timeout))
    if span is None:
        result = asyncio.run(provider.instant(promql))
    else:
        try:
            length, resolution = parse_duration(span), parse_duration(step)
        except ValueError as error:
            raise CoalmineError(f"--range/--step: {error}") from None
        result = asyncio.run(_range(provider, promql, length, resolution))
    if output == OutputFormat.JSON:
        typer.echo(json.dumps(_as_json(promql, result), indent=2))
    else:
        _print_table(promql, result)


def local_prometheus(state_dir: Path) -> str:
    """The address of the Prometheus a running `coalmine up --prometheus` started for
    `state_dir` ('' when none runs, or it runs without one): it listens on a free port,
    so a reader following the guide would otherwise have to copy it from the banner."""
    from coalmine.errors import CoalmineError
    from coalmine.local.client import LocalClient

    if not (state_dir / "api.json").exists():
        return ""
    try:
        return str(LocalClient(state_dir, timeout=LOCAL_TIMEOUT_SECONDS).health()["prometheus"])
    except (CoalmineError, KeyError):
        return ""


async def _range(
    provider: PrometheusProvider, promql: str, length: timedelta, step: timedelta
) -> QueryResult:
    end = datetime.now(UTC)
    return await provider.range(
        promql, start=end - length, end=end, step_seconds=step.total_seconds()
    )


def _number(value: float) -> float | str:
    """JSON has no NaN or infinity: write them as Prometheus does, as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def _as_json(promql: str, result: QueryResult) -> dict[str, Any]:
    document: dict[str, Any] = {"query": promql, "type": result.type}
    if result.type == "string":
        document["result"] = result.text
    elif result.type == "matrix":
        document["result"] = [
            {
                "labels": dict(s.labels),
                "points": [[p.time, _number(p.value)] for p in s.points],
            }
            for s in result.series
        ]
    else:
        document["result"] = [
            {"labels": dict(s.labels), "time": p.time, "value": _number(p.value)}
            for s in result.series
            for p in s.points
        ]
    return document


def _print_table(promql: str, result: QueryResult) -> None:
    from rich.console import Console
    from rich.table import Table

    from coalmine.metrics.results import format_labels

    console = Console()
    if result.type == "string":
        console.print(result.text)
        return
    if not result.series:
        typer.secho("no data: the query matched no series", fg=typer.colors.YELLOW, err=True)
        return
    # The query on a line of its own: as the table's title it was folded into the
    # table's width, a few characters a line.
    console.print(promql, soft_wrap=True, highlight=False, markup=False)
    table = Table()
    table.add_column("series")
    if result.type == "matrix":
        table.add_column("time (UTC)")
    table.add_column("value", justify="right")
    for series in result.series:
        name = format_labels(series.labels)
        for point in series.points:
            value = f"{point.value:.6g}"
            if result.type == "matrix":
                table.add_row(name, _time(point.time), value)
                name = ""
            else:
                table.add_row(name, value)
    console.print(table)


def _time(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S")
