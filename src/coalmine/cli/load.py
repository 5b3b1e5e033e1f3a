"""`coalmine load`: send steady HTTP traffic at a fixed rate and summarise what came back."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.errors import CoalmineError

if TYPE_CHECKING:
    from coalmine.load import LoadGenerator, LoadPlan, LoadResult

__all__ = ["Output", "load", "parse_headers"]

PROGRESS_EVERY = 0.25
"""Seconds between refreshes of the live line."""

INTERRUPTED = 130
"""Exit code after Ctrl-C, as shells report a SIGINT; the partial summary is printed first."""


class Output(StrEnum):
    TEXT = "text"
    JSON = "json"


def parse_headers(items: list[str]) -> dict[str, str]:
    """`--header NAME:VALUE` items as a dict; a malformed one names itself and the fix."""
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise CoalmineError(f"--header {item!r}: write NAME:VALUE, e.g. release:0.0.2")
        headers[name.strip()] = value.strip()
    return headers


def load(
    urls: Annotated[list[str], typer.Argument(help="URL(s) to send to; several are used in turn.")],
    rps: Annotated[float, typer.Option("--rps", min=0.001, help="Requests per second.")] = 10.0,
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long to send: 30s, 2m, 1m30s.")
    ] = "30s",
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="NAME:VALUE; repeatable.")
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method.")] = "GET",
    body: Annotated[str | None, typer.Option("--body", help="Request body (text).")] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Longest wait for one answer: 10s, 500ms.")
    ] = "10s",
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="Requests out at once; more due are dropped and counted.")
    ] = 1000,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.TEXT,
) -> None:
    """Send requests at a fixed rate, however slow the answers, and summarise them.

    Requests leave on a clock (open loop), so a slow server sees the same rate.
    Prints answers by status, failures by kind, latency percentiles and the rate
    achieved. Exit code 0 when it ran (5xx answers included), 1 when no request
    got any answer, 130 when stopped with Ctrl-C (after printing what it got).

    Example:  coalmine load http://127.0.0.1:8080/demo/hello --rps 50 --duration 1m
    """
    import asyncio

    from coalmine.load import LoadPlan

    plan = LoadPlan(
        urls=tuple(urls),
        rate=rps,
        duration=_seconds("--duration", duration),
        method=method.upper(),
        headers=parse_headers(header or []),
        body=None if body is None else body.encode(),
        timeout=_seconds("--timeout", timeout),
        max_in_flight=max_in_flight,
    )
    result = asyncio.run(_run(plan, show_progress=output is Output.TEXT))
    _print(result, output)
    if result.answered == 0 and not result.stopped_early:
        typer.secho(_nothing_answered(result, plan), fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if result.stopped_early:
        raise typer.Exit(INTERRUPTED)


def _seconds(flag: str, text: str) -> float:
    from coalmine.api.common import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as error:
        raise CoalmineError(f"{flag}: {error}") from None


async def _run(plan: LoadPlan, *, show_progress: bool) -> LoadResult:
    """Run the load; Ctrl-C stops it gracefully; a live line on a terminal."""
    from coalmine.load import LoadGenerator

    generator = LoadGenerator(plan)
    with _stop_on_interrupt(generator):
        async with _live_progress(generator, enabled=show_progress):
            return await generator.run()


@contextlib.contextmanager
def _stop_on_interrupt(generator: LoadGenerator) -> Iterator[None]:
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, generator.stop)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread: no handler
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


@contextlib.asynccontextmanager
async def _live_progress(generator: LoadGenerator, *, enabled: bool) -> AsyncIterator[None]:
    """A one-line live view on stderr when it is a terminal; nothing otherwise.

    The line is refreshed by a task on the event loop (not rich's own thread), so
    it reads the counts between requests, never while one is being recorded.
    """
    import asyncio

    from rich.console import Console

    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield
        return
    from rich.live import Live
    from rich.text import Text

    from coalmine.load import progress_line

    def render() -> Text:
        return Text(progress_line(generator.snapshot(latencies=False), generator.plan.duration))

    async def refresh(live: Live) -> None:
        while True:
            live.update(render(), refresh=True)
            await asyncio.sleep(PROGRESS_EVERY)

    with Live(render(), console=console, auto_refresh=False, transient=True) as live:
        refresher = asyncio.create_task(refresh(live))
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher


def _print(result: LoadResult, output: Output) -> None:
    if output is Output.JSON:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from coalmine.load import summary_lines

    for line in summary_lines(result):
        typer.echo(line)


def _nothing_answered(result: LoadResult, plan: LoadPlan) -> str:
    causes = ", ".join(f"{n} {kind}" for kind, n in sorted(result.errors.items())) or "none sent"
    return (
        f"no request got an answer ({causes}): is the service at {plan.urls[0]} running, "
        "and is the URL right?"
    )
