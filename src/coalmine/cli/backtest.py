"""`coalmine backtest CANARY --from T1 --to T2`: the analysis replayed over Prometheus history."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
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
from coalmine.errors import CoalmineError, ManifestError

if TYPE_CHECKING:
    from coalmine.api import Canary
    from coalmine.metrics.backtest import PastRelease
    from coalmine.targets.base import Target

__all__ = ["backtest", "parse_time"]


def parse_time(text: str, option: str, now: datetime) -> datetime:
    """An ISO 8601 time ("2026-12-01T10:00:00Z"), or a duration ago ("2h", "30m")."""
    from coalmine.api.common import parse_duration

    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CoalmineError(
            f"{option} {text!r}: write an ISO 8601 time (2026-12-01T10:00:00Z) or a duration "
            "ago (2h, 30m)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def backtest(
    state_dir: StateDir,
    canary: Annotated[
        str | None, typer.Argument(help="The canary, read from the target.", show_default=False)
    ] = None,
    start: Annotated[
        str, typer.Option("--from", help="Start: ISO 8601 time, or a duration ago (2h).")
    ] = "1h",
    end: Annotated[str, typer.Option("--to", help="End: ISO 8601 time, or a duration ago.")] = "0s",
    file: Annotated[
        Path | None, typer.Option("-f", "--filename", help="Read the Canary from a file instead.")
    ] = None,
    metrics_server: Annotated[
        str | None,
        typer.Option(
            help="Prometheus to read (env COALMINE_PROMETHEUS_URL; else the "
            "canary's metricsServer)."
        ),
    ] = None,
    mesh: Annotated[
        str | None,
        typer.Option(
            help="istio (Kubernetes) or envoy (coalmine up --prometheus); "
            "default from spec.provider, else istio."
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="text or json.")] = "text",
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Replay a canary's analysis (judge and fixed ranges) over Prometheus history and
    print what it would have decided for each past release, and when.

    A past release is a stretch of ticks (the analysis interval) in which the canary
    workload served requests. The judge decides on the per-side counts Prometheus held;
    request-success-rate and request-duration are computed from the same counts; other
    metrics are left out (and named).

    Example:  coalmine backtest podinfo -n test --from 6h --metrics-server http://localhost:9090
    """
    if output not in ("text", "json"):
        raise CoalmineError(f"-o {output!r}: use text or json")
    now = datetime.now(UTC)
    window = (parse_time(start, "--from", now), parse_time(end, "--to", now))
    if window[0] >= window[1]:
        raise CoalmineError(f"--from {start!r} must be before --to {end!r}")
    if file is not None:
        import asyncio

        found = _from_file(file)
        releases = asyncio.run(_run(found, metrics_server, mesh, window))
    else:
        if canary is None:
            raise CoalmineError("name a CANARY, or give -f FILE")
        options = target_options(state_dir, context, kubeconfig, namespace)

        async def work(target: Target) -> tuple[Canary, list[PastRelease]]:
            found = await _from_target(target, canary)
            return found, await _run(found, metrics_server, mesh, window)

        found, releases = run_on_target(options, work)
    _show(found, releases, output == "json")


def _from_file(path: Path) -> Canary:
    from coalmine.api import Canary, load_file

    # A replay reads history at any step: the 10 s floor of a live analysis does not apply.
    loaded = load_file(path, skip_other_kinds=True)
    if loaded.problems:
        raise ManifestError(loaded.problems)
    canaries = [r for r in loaded.resources if isinstance(r, Canary)]
    if len(canaries) != 1:
        raise CoalmineError(f"{path}: needs exactly one Canary, found {len(canaries)}")
    return canaries[0]


async def _from_target(target: Target, name: str) -> Canary:
    from coalmine.api import Canary, parse_resource

    view = await target.canary(target.namespace, name)
    document = {
        "apiVersion": view.api_version,
        "kind": "Canary",
        "metadata": {"name": view.name, "namespace": view.namespace},
        "spec": view.spec,
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


async def _run(
    canary: Canary, server: str | None, mesh: str | None, window: tuple[datetime, datetime]
) -> list[PastRelease]:
    from coalmine.metrics import ProviderSettings
    from coalmine.metrics.backtest import backtest as run_backtest
    from coalmine.metrics.observer import PrometheusObserver
    from coalmine.metrics.providers.prometheus import PrometheusProvider

    url = server or os.environ.get("COALMINE_PROMETHEUS_URL") or canary.spec.metrics_server
    if not url:
        raise CoalmineError(
            "which Prometheus? give --metrics-server URL, set COALMINE_PROMETHEUS_URL, or "
            "set spec.metricsServer"
        )
    chosen = mesh or ("envoy" if canary.spec.provider == "envoy" else "istio")
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(url)), mesh=chosen)
    return await run_backtest(canary, observer, *window)


def _show(canary: Canary, releases: list[PastRelease], as_json: bool) -> None:
    from coalmine.metrics.backtest import replayable

    _, left_out = replayable(canary)
    if as_json:
        report = {"releases": [r.to_json() for r in releases], "metricsLeftOut": left_out}
        typer.echo(json.dumps(report, indent=2))
        return
    if left_out:
        typer.echo(
            f"-- metrics left out of the replay (not computable from counts): {', '.join(left_out)}"
        )
    if not releases:
        typer.echo("-- no canary traffic in that time: no release to replay")
    for release in releases:
        when = f" at {release.decided_at:%Y-%m-%d %H:%M:%S}" if release.decided_at else ""
        typer.echo(
            f"{release.start:%Y-%m-%d %H:%M:%S} .. {release.end:%H:%M:%S}: {release.verdict}{when}"
        )
        if release.reason:
            typer.echo(f"    {release.reason}")
