"""`coalmine demo`: the whole reference workshop on this machine, in a few minutes; with
`--strategy`, the same faulty release shipped big-bang, rolling and canary, measured."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from coalmine.cli.up import parse_address

if TYPE_CHECKING:
    from coalmine.demo.play import Verdict
    from coalmine.demo.strategies import CompareSettings, StrategyRun
    from coalmine.local.runtime import LocalRuntime

__all__ = ["demo"]

T = TypeVar("T")

WORKSHOP_INTERVAL = 5
STRATEGY_INTERVAL = 2


def demo(
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            metavar="big-bang|rolling|canary|all",
            help="Instead of the workshop: ship the same faulty release (0.0.2 fails half of"
            " its requests) as big-bang, rolling or canary under the same steady load, and"
            " compare what users saw. Repeat it, separate with commas, or say all.",
        ),
    ] = None,
    detection_delay: Annotated[
        float,
        typer.Option(
            help="With --strategy: seconds from the first failed request to the rollback by"
            " hand, the same for big-bang and rolling."
        ),
    ] = 10.0,
    rps: Annotated[
        float, typer.Option(help="With --strategy: requests per second of the steady load.")
    ] = 50.0,
    chart: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.svg",
            help="With --strategy: also draw the share of requests the faulty release"
            " answered, second by second, as an SVG file here.",
        ),
    ] = None,
    gateway: Annotated[
        str, typer.Option(help="Where the gateway listens, HOST:PORT (port 0: a free one).")
    ] = "127.0.0.1:0",
    interval: Annotated[
        int | None,
        typer.Option(
            help="Analysis interval of the demo's canary, seconds (default 5; 2 with --strategy)."
        ),
    ] = None,
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

    With --strategy, ships a faulty release big-bang (all traffic at once), rolling
    (replica by replica) and/or canary (a coalmine Canary) under the same load, and
    prints for each how many requests failed, for how long, and how the release was
    found and undone (by hand after --detection-delay for big-bang and rolling, by the
    canary's analysis). Exit code 0 only when canary let fewer requests fail than
    rolling, and rolling fewer than big-bang (among those run).

    Example:  coalmine demo --strategy all
    """
    from coalmine.errors import CoalmineError

    host, port = parse_address(gateway, "--gateway")
    if strategy is not None:
        from coalmine.demo.strategies import CompareSettings, parse_strategies

        settings = CompareSettings(
            strategies=parse_strategies(strategy),
            detection_delay=detection_delay,
            rps=rps,
            interval=STRATEGY_INTERVAL if interval is None else interval,
        )
        if chart is not None and not chart.parent.is_dir():
            raise CoalmineError(f"--chart: directory {chart.parent} does not exist")
        runs = _with_runtime(state_dir, host, port, lambda rt: _compare(rt, settings))
        if chart is not None:
            _draw(runs, settings, chart)
        raise typer.Exit(_comparison(runs))
    chosen = WORKSHOP_INTERVAL if interval is None else interval
    if not 1 <= chosen <= 60:
        raise CoalmineError(f"--interval must be between 1 and 60 seconds, got {chosen}")
    verdicts = _with_runtime(state_dir, host, port, lambda rt: _play(rt, chosen))
    _summary(verdicts)
    raise typer.Exit(0 if all(v.expected for v in verdicts) else 1)


def _with_runtime(
    state_dir: Path | None,
    host: str,
    port: int,
    run: Callable[[LocalRuntime], Awaitable[T]],
) -> T:
    """Start a local runtime (in `state_dir` or a temporary one), run, always stop it."""
    import asyncio

    if state_dir is not None:
        return asyncio.run(_run(state_dir, host, port, run))
    with tempfile.TemporaryDirectory(prefix="coalmine-demo-") as temporary:
        return asyncio.run(_run(Path(temporary), host, port, run))


async def _run(
    state_dir: Path, host: str, port: int, run: Callable[[LocalRuntime], Awaitable[T]]
) -> T:
    from datetime import timedelta

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
        return await run(runtime)
    finally:
        await runtime.stop()


async def _play(runtime: LocalRuntime, interval: int) -> list[Verdict]:
    from coalmine.demo.play import play

    return await play(runtime, typer.echo, interval_seconds=interval)


async def _compare(runtime: LocalRuntime, settings: CompareSettings) -> list[StrategyRun]:
    from coalmine.demo.strategies import compare

    typer.echo(
        f"the same steady load for each: {settings.rps:g} requests/s; rollback by hand "
        f"{settings.detection_delay:g}s after the first failed request"
    )
    return await compare(runtime, settings, typer.echo)


def _comparison(runs: list[StrategyRun]) -> int:
    from coalmine.demo.strategies import problems, table
    from coalmine.demo.strategies.manifests import BAD

    typer.echo("")
    for line in table(runs, BAD.version):
        typer.echo(line)
    found = problems(runs)
    for problem in found:
        typer.echo(f"error: {problem}", err=True)
    if not found:
        typer.echo(f"as expected: {_ordering(runs)}")
    return 1 if found else 0


def _draw(runs: list[StrategyRun], settings: CompareSettings, path: Path) -> None:
    from coalmine.demo.strategies.chart import chart
    from coalmine.demo.strategies.manifests import BAD

    names = ",".join(strategy.value for strategy in settings.strategies)
    caption = (
        f"coalmine demo --strategy {names}: {settings.rps:g} requests/s; rollback by hand "
        f"{settings.detection_delay:g} s after the first failed request"
    )
    path.write_text(chart(runs, BAD.version, caption))
    typer.echo(f"chart written to {path}")


def _ordering(runs: list[StrategyRun]) -> str:
    ordered = sorted(runs, key=lambda run: run.exposure.failed)
    return " < ".join(f"{run.strategy.value} ({run.exposure.failed})" for run in ordered) + (
        " failed requests" if len(runs) > 1 else " failed requests (nothing to compare)"
    )


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
