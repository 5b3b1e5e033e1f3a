"""`coalmine report CANARY`: one analysis as a self-contained HTML file, or Markdown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.targeting import (
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)

if TYPE_CHECKING:
    from coalmine.targets.base import Target

__all__ = ["MetricsServer", "report", "write_report"]

MetricsServer = Annotated[
    str | None,
    typer.Option(
        help="Prometheus with coalmine's and Istio's metrics, for a cluster's history"
        " (env COALMINE_PROMETHEUS_URL). Without it a cluster report has status and events only.",
        show_default=False,
    ),
]


def report(
    canary: Annotated[str, typer.Argument(help="Name of the Canary.", show_default=False)],
    state_dir: StateDir,
    output: Annotated[
        str,
        typer.Option("-o", "--output", help="The HTML file to write; - prints Markdown."),
    ] = "report.html",
    revision: Annotated[
        str | None,
        typer.Option(
            help="The revision (a prefix of its hash; on a cluster an earlier one may be named"
            " by the time its analysis began); default: the latest analysis."
        ),
    ] = None,
    metrics_server: MetricsServer = None,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Write the report of one analysis: the spec in brief, the steps, each check's values
    against its range (charts), the events, the verdict and why.

    The HTML file has everything inline (charts are SVG): it makes no request when opened.

    Example:  coalmine report go-demo-7 -n go-demo-7 -o report.html
    """
    options = target_options(state_dir, context, kubeconfig, namespace)
    server = metrics_server or os.environ.get("COALMINE_PROMETHEUS_URL")

    async def work(target: Target) -> str:
        return await write_report(target, canary, revision, output, server)

    said = run_on_target(options, work)
    if said:
        typer.echo(said)


async def write_report(
    target: Target, name: str, revision: str | None, output: str, server: str | None
) -> str:
    """Render and write (or return, for "-"); answers what to print."""
    from coalmine.history.reading import read_history
    from coalmine.report import render_html, render_markdown

    history = await read_history(target, target.namespace, name, metrics_server=server)
    if output == "-":
        return render_markdown(history, revision)
    import asyncio

    path = Path(output)
    await asyncio.to_thread(path.write_text, render_html(history, revision), encoding="utf-8")
    return f"report of {name} written to {path}"
