"""`coalmine up`: run the local control plane in the foreground until Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
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

    Example:  coalmine up --state-dir .coalmine --gateway 127.0.0.1:8080
    """
    import asyncio
    from dataclasses import replace

    from coalmine.api.common import parse_duration
    from coalmine.api.parsing import DEFAULT_LIMITS, MIB
    from coalmine.local.runtime import RuntimeSettings
    from coalmine.logs import configure_logging

    configure_logging(log_level, json_lines=log_json)
    _refuse_second_instance(state_dir)
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
    asyncio.run(_serve(settings, dashboard=dashboard))


async def _serve(settings: RuntimeSettings, *, dashboard: bool) -> None:
    import asyncio

    from coalmine.local.runtime import LocalRuntime

    runtime = LocalRuntime(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    served = None
    try:
        await runtime.start()
        if dashboard:
            served = await _dashboard(runtime)
        typer.echo(_banner(runtime, served.url if served else None))
        await stopping.wait()
        typer.echo("stopping: canaries, processes, Envoy ...")
    finally:
        if served is not None:
            await served.close()
        await runtime.stop()
    typer.echo("stopped")


async def _dashboard(runtime: LocalRuntime) -> Dashboard:
    """The dashboard, reading the store in-process, behind the API's token."""
    from coalmine.cli.targeting import default_by
    from coalmine.web.app import serve
    from coalmine.web.runtime import RuntimeSource

    assert runtime.api is not None
    return await serve(RuntimeSource(runtime), runtime.api.token, by=default_by())


def _banner(runtime: LocalRuntime, dashboard: str | None = None) -> str:
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
            "Ctrl-C stops everything.",
        ]
    )


def _refuse_second_instance(state_dir: Path) -> None:
    """One `coalmine up` per state directory: a second one would fight over processes."""
    try:
        published = json.loads((state_dir / "api.json").read_text())
        pid = int(published["pid"])
    except (OSError, ValueError, KeyError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    raise CoalmineError(
        f"a coalmine up (pid {pid}) already runs with state directory {state_dir};"
        " stop it first, or use another --state-dir"
    )
