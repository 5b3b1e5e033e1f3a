"""`coalmine demo`: the whole reference workshop on this machine, in a few minutes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.up import parse_address

if TYPE_CHECKING:
    from coalmine.demo.play import Verdict

__all__ = ["demo"]


def demo(
    gateway: Annotated[
        str, typer.Option(help="Where the gateway listens, HOST:PORT (port 0: a free one).")
    ] = "127.0.0.1:0",
    interval: Annotated[
        int, typer.Option(help="Analysis interval of the demo's canary, seconds.")
    ] = 5,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the runtime's state here (default: a temporary directory)."),
    ] = None,
) -> None:
    """Run the reference scenario end to end with a real Envoy and real processes.

    Release 0.0.1 becomes the primary; 0.0.2 is promoted through 20, 40, 60 %; 0.0.3,
    shipped while traffic hits /demo/random-error, is rolled back on the success rate;
    0.0.4, answering with random delays up to 3 s, is rolled back on the p99 duration;
    0.0.5 rolls forward. Prints the timeline; exit code 0 only when every verdict was
    the expected one.

    Example:  coalmine demo
    """
    import asyncio

    if not 1 <= interval <= 60:
        from coalmine.errors import CoalmineError

        raise CoalmineError(f"--interval must be between 1 and 60 seconds, got {interval}")
    host, port = parse_address(gateway, "--gateway")
    if state_dir is not None:
        verdicts = asyncio.run(_run(state_dir, host, port, interval))
    else:
        with tempfile.TemporaryDirectory(prefix="coalmine-demo-") as temporary:
            verdicts = asyncio.run(_run(Path(temporary), host, port, interval))
    _summary(verdicts)
    raise typer.Exit(0 if all(v.expected for v in verdicts) else 1)


async def _run(state_dir: Path, host: str, port: int, interval: int) -> list[Verdict]:
    from datetime import timedelta

    from coalmine.demo.play import play
    from coalmine.local.runtime import LocalRuntime, RuntimeSettings

    settings = RuntimeSettings(
        state_dir=state_dir, gateway_host=host, gateway_port=port, min_interval=timedelta(seconds=1)
    )
    runtime = LocalRuntime(settings)
    typer.echo("starting the local runtime (Envoy, the demo releases as processes) ...")
    await runtime.start()
    try:
        typer.echo(
            f"gateway {runtime.gateway_url}  (try: curl -H 'Host: go-demo-7.example' "
            f"{runtime.gateway_url}/version)"
        )
        return await play(runtime, typer.echo, interval_seconds=interval)
    finally:
        await runtime.stop()


def _summary(verdicts: list[Verdict]) -> None:
    typer.echo("\nrelease   expected      got           time")
    for verdict in verdicts:
        mark = "ok" if verdict.expected else "UNEXPECTED"
        release = verdict.release
        got = verdict.phase or "-"
        typer.echo(
            f"{release.version:<9} {release.verdict:<13} {got:<13} {verdict.seconds:>4.0f}s  {mark}"
        )
    good = sum(v.expected for v in verdicts)
    typer.echo(f"{good} of {len(verdicts)} verdicts as expected")
