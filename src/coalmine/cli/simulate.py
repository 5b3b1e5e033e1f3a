"""`coalmine simulate`: run a Canary through the real engine against scripted metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.errors import CoalmineError, ManifestError

if TYPE_CHECKING:
    from coalmine.api import Canary, CanaryMetric
    from coalmine.judge.observations import TickObservation
    from coalmine.testing import Simulation
    from coalmine.testing.replay import ReplayTick

__all__ = ["MetricScript", "simulate"]


class MetricScript:
    """Values per metric for each analysis tick, the last one repeating; None is no data."""

    def __init__(self, items: list[str]) -> None:
        self.values: dict[str, list[float | None]] = {}
        self.used: dict[str, int] = {}
        for item in items:
            name, sep, values = item.partition("=")
            if not sep or not name or not values:
                raise CoalmineError(f"--metric {item!r}: write NAME=VALUE or NAME=V1,V2,...")
            try:
                self.values[name] = [None if v == "-" else float(v) for v in values.split(",")]
            except ValueError:
                raise CoalmineError(f"--metric {item!r}: values must be numbers or -") from None

    def __call__(self, canary: Canary, metric: CanaryMetric) -> float | None:
        values = self.values.get(metric.name)
        if not values:
            return None
        index = self.used.get(metric.name, 0)
        self.used[metric.name] = index + 1
        return values[min(index, len(values) - 1)]


def simulate(
    file: Annotated[Path, typer.Option("-f", "--filename", help="A file holding one Canary.")],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="NAME=V1,V2,... per analysis tick; '-' is no data."),
    ] = None,
    unhealthy: Annotated[bool, typer.Option(help="The new revision never becomes ready.")] = False,
    max_ticks: Annotated[int, typer.Option(help="Give up after this many ticks.")] = 200,
    observations: Annotated[
        Path | None,
        typer.Option(
            "--observations",
            help="JSON Lines, one analysis tick per line: per side requests, errors and "
            "latency_ms {le, counts}. Feeds the judge and request-success-rate and "
            "request-duration. Exit 0 promoted, 1 rolled back, 2 undecided.",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="text, or json (with --observations).")
    ] = "text",
) -> None:
    """Show what a Canary would do, tick by tick, with the metric values you give.

    The real engine runs against in-memory stand-ins for the cluster, the router
    and the metrics: release 0.0.1 becomes the primary, then 0.0.2 is analysed.
    Exit code 0 when it would be promoted, 1 when it would not (2 when the
    --observations file ends before a verdict).

    Example:  coalmine simulate -f canary.yaml -m request-success-rate=99.9,97,95
    """
    import asyncio

    from coalmine.api import Canary, load_file

    loaded = load_file(file, skip_other_kinds=True)
    if loaded.problems:
        raise ManifestError(loaded.problems)
    canaries = [r for r in loaded.resources if isinstance(r, Canary)]
    if len(canaries) != 1:
        raise CoalmineError(f"{file}: needs exactly one Canary, found {len(canaries)}")
    if output not in ("text", "json"):
        raise CoalmineError(f"-o {output!r}: use text or json")
    if observations is not None:
        ticks = read_observations(observations)
        raise typer.Exit(asyncio.run(_replay(canaries[0], ticks, output == "json")))
    if output == "json":
        raise CoalmineError("-o json needs --observations FILE")
    if canaries[0].spec.analysis.judge is not None:
        raise CoalmineError(
            f"{file}: spec.analysis.judge compares counts per side: give --observations FILE "
            "(JSON Lines, see coalmine simulate --help)"
        )
    script = MetricScript(metric or [])
    promoted = asyncio.run(_run(canaries[0], script, unhealthy, max_ticks))
    raise typer.Exit(0 if promoted else 1)


async def _run(canary: Canary, script: MetricScript, unhealthy: bool, max_ticks: int) -> bool:
    from coalmine.api import Phase
    from coalmine.testing import Simulation

    sim = Simulation(canary)
    sim.measurer.function = script
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=10)
    shown = _print_events(sim, 0)
    sim.deploy("0.0.2", healthy=not unhealthy)
    typer.echo(f"-- new revision 0.0.2 of {sim.target}")
    for _ in range(max_ticks):
        await sim.tick()
        shown = _print_events(sim, shown)
        if sim.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    promoted = sim.phase == Phase.SUCCEEDED
    typer.echo(f"-- verdict: {'promoted' if promoted else f'not promoted ({sim.phase})'}")
    return promoted


def read_observations(path: Path) -> list[TickObservation]:
    """Every line of a JSON Lines file as one tick; errors name the file and line."""
    import json

    from coalmine.judge.observations import parse_tick

    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise CoalmineError(f"--observations {path}: {error.strerror}") from None
    ticks = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise CoalmineError(f"{path}:{number}: not JSON: {error.msg}") from None
        ticks.append(parse_tick(data, f"{path}:{number}"))
    if not ticks:
        raise CoalmineError(f"--observations {path}: no ticks in the file")
    return ticks


EXIT_CODES = {"promoted": 0, "rolled-back": 1, "undecided": 2}


async def _replay(canary: Canary, ticks: list[TickObservation], as_json: bool) -> int:
    import json

    from coalmine.testing.replay import replay

    result = await replay(canary, ticks, on_tick=None if as_json else _print_tick)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        at = f" at tick {result.tick}" if result.tick is not None else ""
        typer.echo(f"-- verdict: {result.verdict}{at} ({len(ticks)} ticks in the file)")
    return EXIT_CODES[result.verdict]


def _print_tick(tick: ReplayTick) -> None:
    typer.echo(f"tick {tick.tick}: {tick.phase}, canary weight {tick.weight}%: {tick.decision}")
    for check in tick.judge:
        typer.echo(f"    {check['message']}")
    for check in tick.checks:
        state = "passed" if check["passed"] else "failed"
        value = check.get("value")
        shown = "no data" if value is None else f"{value:.2f}"
        typer.echo(f"    {check['name']}: {shown} {state}")


def _print_events(sim: Simulation, start: int) -> int:
    """Print the tick's outcome and its events from `start` on; return the new start."""
    status = sim.canary.status
    threshold = sim.canary.spec.analysis.failure_threshold
    typer.echo(
        f"{sim.clock.now():%H:%M:%S} {status.phase}: canary weight {status.canary_weight}%, "
        f"failed checks {status.failed_checks}/{threshold}"
    )
    for event in sim.notifier.events[start:]:
        marker = "!" if event.type == "Warning" else "-"
        typer.echo(f"    {marker} {event.message}")
    return len(sim.notifier.events)
