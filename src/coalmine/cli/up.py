"""`coalmine up`: run the local control plane in the foreground until Ctrl-C."""

from __future__ import annotations

import shutil
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.errors import CoalmineError

if TYPE_CHECKING:
    from coalmine.local.runtime import LocalRuntime, RuntimeSettings
    from coalmine.web.app import Dashboard

__all__ = ["parse_address", "up"]


def parse_address(text: str, option: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" or ":8080" (127.0.0.1) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CoalmineError(f"{option} {text!r}: write HOST:PORT, for example 127.0.0.1:8080")
    return host or "127.0.0.1", int(port)


def up(
    state_dir: StateDir,
    gateway: Annotated[
        str, typer.Option(help="Where the gateway listens, HOST:PORT (port 0: a free one).")
    ] = "127.0.0.1:8080",
    min_interval: Annotated[
        str,
        typer.Option(
            help="Lowest analysis.interval accepted. Flagger's 10s by default; local canaries"
            " can tick faster since Envoy's stats are read every second."
        ),
    ] = "10s",
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus",
            help="Start a Prometheus (found on PATH) scraping Envoy every second, and measure"
            " every metric through it (MetricTemplates and inline queries need it).",
        ),
    ] = False,
    loadtester_port: Annotated[
        int, typer.Option(help="Port of the built-in load tester on 127.0.0.1 (0: a free one).")
    ] = 0,
    loadtester_commands: Annotated[
        bool,
        typer.Option(
            "--loadtester-commands",
            help="Let the built-in load tester run cmd and bash webhook tasks (off by default;"
            " requests need the API's token either way).",
        ),
    ] = False,
    max_request_mib: Annotated[
        float,
        typer.Option(
            help="Largest apply the API accepts, in MiB (one document: half of it).", min=0.01
        ),
    ] = 8.0,  # api.parsing.DEFAULT_LIMITS (not imported here: --help stays fast)
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running",
            help="On Ctrl-C or SIGTERM, stop only the control plane and leave Envoy and the"
            " replicas serving, for the next `coalmine up` to adopt (as after a kill -9).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_json: Annotated[bool, typer.Option(help="Log JSON lines.")] = False,
    dashboard: Annotated[
        bool,
        typer.Option(
            help="Serve the dashboard on 127.0.0.1 (a free port; the address is printed)."
        ),
    ] = True,
) -> None:
    """Run the local control plane: Envoy, your Deployments as processes, and the canaries.

    State lives in SQLite under the state directory; stopping and starting again
    resumes every canary where it was. Talk to it with `coalmine apply`, `get`,
    `describe`, `events` and `delete` from another terminal.

    Ctrl-C or SIGTERM stops everything within about 30 s (then SIGKILL; a second Ctrl-C
    kills at once). If `coalmine up` dies instead (kill -9, a crash) or runs with
    --keep-running, Envoy and the replicas keep serving and the next `coalmine up`
    adopts them: clients see no restart.

    Example:  coalmine up --state-dir .coalmine --gateway 127.0.0.1:8080
    """
    import asyncio
    from dataclasses import replace

    from coalmine.api.common import parse_duration
    from coalmine.api.parsing import DEFAULT_LIMITS, MIB
    from coalmine.local.runtime import RuntimeSettings
    from coalmine.logs import configure_logging

    configure_logging(log_level, json_lines=log_json)
    host, port = parse_address(gateway, "--gateway")
    try:
        floor = parse_duration(min_interval)
    except ValueError as error:
        raise CoalmineError(f"--min-interval: {error}") from None
    settings = RuntimeSettings(
        state_dir=state_dir,
        gateway_host=host,
        gateway_port=port,
        min_interval=floor,
        loadtester_port=loadtester_port,
        loadtester_commands=loadtester_commands,
        prometheus=prometheus,
        parse_limits=replace(
            DEFAULT_LIMITS,
            max_request_bytes=int(max_request_mib * MIB),
            max_document_bytes=int(max_request_mib * MIB / 2),
        ),
    )
    if prometheus and shutil.which("prometheus") is None:
        raise CoalmineError(
            "--prometheus: no prometheus on PATH; install it (apt-get install prometheus,"
            " or a release from prometheus.io) or run without --prometheus"
        )
    asyncio.run(_serve(settings, dashboard=dashboard, keep_running=keep_running))


async def _serve(settings: RuntimeSettings, *, dashboard: bool, keep_running: bool) -> None:
    import asyncio

    from coalmine.local.runtime import LocalRuntime

    runtime = LocalRuntime(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    started = False

    def on_signal() -> None:
        if stopping.is_set():  # the second Ctrl-C: no more waiting
            typer.echo("killing every child now")
            runtime.kill()
        stopping.set()
        if not started and main is not None:
            main.cancel()  # still starting: stop that first

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    served = None
    try:
        await runtime.start()
        started = True
        if dashboard:
            served = await _dashboard(runtime)
        typer.echo(_banner(runtime, keep_running, served.url if served else None))
        await stopping.wait()
        what = (
            "canaries (Envoy and replicas keep serving)"
            if keep_running
            else ("canaries, processes, Envoy")
        )
        typer.echo(f"stopping: {what} ...")
    except asyncio.CancelledError:
        if main is not None:
            main.uncancel()  # our own cancellation (a signal while starting): handled here
        typer.echo("stopping while starting ...")
    finally:
        if served is not None:
            await served.close()
        await runtime.stop(keep_data_plane=keep_running)
    typer.echo("stopped")


async def _dashboard(runtime: LocalRuntime) -> Dashboard:
    """The dashboard, reading the store in-process, behind the API's token."""
    from coalmine.cli.targeting import default_by
    from coalmine.web.app import serve
    from coalmine.web.runtime import RuntimeSource

    assert runtime.api is not None
    return await serve(RuntimeSource(runtime), runtime.api.token, by=default_by())


def _banner(runtime: LocalRuntime, keep_running: bool, dashboard: str | None = None) -> str:
    facts = runtime.describe()
    api = runtime.api.url if runtime.api else ""
    return "\n".join(
        [
            f"coalmine up: state in {facts['stateDir']}",
            f"  gateway      {facts['gateway']}",
            f"  load tester  {facts['loadtester']}",
            *([f"  prometheus   {facts['prometheus']}"] if facts["prometheus"] else []),
            f"  Envoy admin  {facts['envoyAdmin']}",
            f"  metrics      {api}/metrics",
            *([f"  dashboard    {dashboard}"] if dashboard else []),
            "apply manifests from another terminal: coalmine apply -f FILE"
            + (f" --state-dir {facts['stateDir']}" if facts["stateDir"] != ".coalmine" else ""),
            "Ctrl-C stops the control plane; Envoy and the replicas keep serving."
            if keep_running
            else "Ctrl-C stops everything.",
        ]
    )
