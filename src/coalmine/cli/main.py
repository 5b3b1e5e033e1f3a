"""The `coalmine` command: every subcommand is registered here, imported lazily.

Errors that coalmine raises on purpose end as one red line and their exit code;
anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coalmine import __version__
from coalmine.cli import (
    apply,
    backtest,
    control,
    controller,
    dashboard,
    demo,
    demo_app,
    deploy,
    describe,
    doctor,
    events,
    gate,
    get,
    install,
    load,
    loadtester,
    manual,
    metrics,
    query,
    report,
    simulate,
    status,
    up,
    validate,
    wait,
)
from coalmine.errors import CoalmineError

__all__ = ["app", "run"]

app = typer.Typer(
    name="coalmine",
    help="Canary deployments that decide for themselves.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"coalmine {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Canary deployments that decide for themselves.

    Ship a release to a slice of real traffic, measure it, then promote it step by
    step or roll it back, on Kubernetes with Istio, or on one machine with Envoy.
    """


app.command("demo")(demo.demo)
app.command("up")(up.up)
app.command("validate")(validate.validate)
app.command("apply")(apply.apply)
app.command("delete")(apply.delete)
app.command("get")(get.get)
app.command("describe")(describe.describe)
app.command("events")(events.events)
app.command("simulate")(simulate.simulate)
app.command("backtest")(backtest.backtest)
app.command("load")(load.load)
app.command("demo-app")(demo_app.demo_app)
app.command("loadtester")(loadtester.loadtester)
app.command("gate")(gate.gate)
app.command("rollback-gate")(gate.rollback_gate)
app.command("query")(query.query)
app.command("metrics")(metrics.metrics)
app.command("report")(report.report)
app.command("dashboard")(dashboard.dashboard)
app.command("controller")(controller.controller)
app.command("install")(install.install)
app.command("deploy")(deploy.deploy)
app.command("wait")(wait.wait)
app.command("status")(status.status)
app.command("promote")(control.promote)
app.command("abort")(control.abort)
app.command("pause")(control.pause)
app.command("resume")(control.resume)
app.add_typer(manual.app, name="manual")
app.command("doctor")(doctor.doctor)


def run() -> None:
    """Entry point of the console script."""
    try:
        app()  # standalone: click handles --help, usage errors and typer.Exit itself
    except CoalmineError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        sys.exit(error.exit_code)
