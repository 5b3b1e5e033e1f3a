"""`coalmine dashboard`: the live web view, on 127.0.0.1, until Ctrl-C."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.report import MetricsServer
from coalmine.cli.targeting import By, Context, Kubeconfig, target_options

if TYPE_CHECKING:
    from coalmine.targets.select import TargetOptions

__all__ = ["dashboard"]


def dashboard(
    state_dir: StateDir,
    by: By,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the address in the default browser.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: a free one).")] = 0,
    metrics_server: MetricsServer = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Serve the dashboard: every canary, and each one live (weights, checks against their
    ranges beside the primary, events, past verdicts, promote/abort/pause/resume).

    It acts where the pipeline commands act: a running `coalmine up` (with its API token),
    else a cluster through the kubeconfig (its credentials; with --metrics-server, the
    weights and checks over time from Prometheus). The printed address carries a token
    once; the browser then keeps a session cookie. Buttons record `--by (dashboard)`.

    Example:  coalmine dashboard --open
    """
    import asyncio

    options = target_options(state_dir, context, kubeconfig, None)
    server = metrics_server or os.environ.get("COALMINE_PROMETHEUS_URL")
    asyncio.run(_serve(options, by, port, server, open_browser))


async def _serve(
    options: TargetOptions, by: str, port: int, server: str | None, open_browser: bool
) -> None:
    import asyncio
    import secrets
    import webbrowser

    from coalmine.targets.local import LocalTarget
    from coalmine.targets.select import open_target
    from coalmine.web.app import serve
    from coalmine.web.source import TargetSource

    target = await open_target(options)
    token = target.client.token if isinstance(target, LocalTarget) else secrets.token_urlsafe(32)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    served = await serve(TargetSource(target, server), token, by=by, port=port)
    try:
        typer.echo(f"coalmine dashboard of {target.description}\n  {served.url}")
        typer.echo("Ctrl-C stops it.")
        if open_browser:
            webbrowser.open(served.url)
        await stopping.wait()
    finally:
        await served.close()
        await target.close()
