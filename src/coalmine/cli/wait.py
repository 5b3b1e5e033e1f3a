"""`coalmine wait CANARY`: wait for the verdict on a revision; the exit code is the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.report import MetricsServer
from coalmine.cli.targeting import (
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)

if TYPE_CHECKING:
    from coalmine.cli.progress import Report
    from coalmine.cli.waiting import WaitSettings
    from coalmine.targets.base import Target
    from coalmine.targets.select import TargetOptions

__all__ = [
    "Output",
    "OutputFormat",
    "ReportFile",
    "Timeout",
    "finish_unreadable",
    "run_or_unreadable",
    "wait",
    "wait_on",
    "wait_settings",
    "write_report_after",
]


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


Timeout = Annotated[
    str, typer.Option("--timeout", help="Give up after this long (exit 2): 30s, 10m, 1h.")
]
Output = Annotated[
    OutputFormat,
    typer.Option(
        "-o",
        "--output",
        help="text (a live line on a terminal, one line per change elsewhere) or json"
        " (one object per change, then a result object).",
    ),
]

ReportFile = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write the analysis report (HTML, as `coalmine report`) to this file"
        " once the wait ends; keep it as a CI artifact. - prints it as Markdown on stderr"
        " (stdout stays the verdict's).",
        show_default=False,
    ),
]


def wait(
    canary: Annotated[str, typer.Argument(help="Name of the Canary.", show_default=False)],
    state_dir: StateDir,
    revision: Annotated[
        str | None,
        typer.Option(
            help="The revision to wait for (default: the target Deployment's current one).",
            show_default=False,
        ),
    ] = None,
    timeout: Timeout = "30m",
    output: Output = OutputFormat.TEXT,
    report_file: ReportFile = None,
    metrics_server: MetricsServer = None,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Wait until the analysis of a revision ends, and answer with the exit code.

    A Succeeded or Failed left over from an earlier revision never counts: the verdict
    counts only once the canary's status is about the revision waited for. A revision
    that is already the promoted one answers promoted at once.

    Exit codes: 0 promoted (for the first revision: initialized); 1 rolled back, or
    replaced by a newer revision before its verdict; 2 no verdict before --timeout;
    3 the canary, the runtime or the cluster could not be read for a minute (also when
    the canary is deleted while waiting). A runtime restarting, an API server answering
    5xx or timing out, a dropped connection: the wait retries for up to 60 s (or until
    --timeout, if sooner) before it gives up; with neither a `coalmine up` (running or
    restarting) for --state-dir nor a kubeconfig, it gives up at once.

    Example:  coalmine wait go-demo-7 -n go-demo-7 --timeout 15m -o json
    """
    from coalmine.cli.progress import report

    settings = wait_settings(timeout)
    sink = report(output.value)
    options = target_options(state_dir, context, kubeconfig, namespace)

    async def work(target: Target) -> int:
        code = await wait_on(target, canary, revision, settings, sink)
        if report_file is not None:
            await write_report_after(target, canary, revision, report_file, metrics_server)
        return code

    grace = min(settings.read_grace, settings.timeout)
    raise typer.Exit(run_or_unreadable(options, work, sink, canary, revision, grace=grace))


async def wait_on(
    target: Target, name: str, revision: str | None, settings: WaitSettings, sink: Report
) -> int:
    from coalmine.cli.waiting import riding, wait_for_verdict
    from coalmine.errors import CoalmineError

    namespace = target.namespace
    grace = min(settings.read_grace, settings.timeout)
    try:
        canary = await riding(lambda: target.canary(namespace, name), grace)
        deployment = canary.target
        wanted = revision
        if not wanted:
            wanted = await riding(lambda: target.revision(namespace, deployment), grace)
    except CoalmineError as error:
        return finish_unreadable(sink, namespace, name, revision, str(error))
    return await wait_for_verdict(target, canary, wanted, settings, sink)


async def write_report_after(
    target: Target, canary: str, revision: str | None, path: Path, server: str | None
) -> None:
    """The verdict stands whatever happens here: a report that cannot be written is said
    on stderr, and the exit code stays the verdict's."""
    import os

    from coalmine.cli.report import write_report
    from coalmine.errors import CoalmineError

    server = server or os.environ.get("COALMINE_PROMETHEUS_URL")
    try:
        said = await write_report(target, canary, revision, str(path), server)
    except (CoalmineError, OSError) as error:
        typer.echo(f"--report {path}: not written: {error}", err=True)
        return
    typer.echo(said, err=True)


def run_or_unreadable(
    options: TargetOptions,
    work: Callable[[Target], Awaitable[int]],
    sink: Report,
    canary: str,
    revision: str | None,
    *,
    grace: float = 0.0,
) -> int:
    """Run the wait; any failure to read (no runtime, no cluster, no such canary, no
    rights) ends it as unreadable (3), with a result object in JSON too. For `grace`
    seconds a runtime that is restarting, or a cluster that does not answer, is waited for."""
    from coalmine.errors import CoalmineError

    try:
        return run_on_target(options, work, grace=grace)
    except CoalmineError as error:
        return finish_unreadable(sink, options.namespace or "", canary, revision, str(error))


def finish_unreadable(
    sink: Report, namespace: str, canary: str, revision: str | None, reason: str
) -> int:
    from coalmine.cli.progress import Summary
    from coalmine.cli.waiting import unreadable

    verdict = unreadable(reason)
    sink.result(Summary(namespace, canary, revision or "", verdict, None, 0.0))
    sink.close()
    return verdict.exit_code


def wait_settings(timeout: str) -> WaitSettings:
    from coalmine.api.common import parse_duration
    from coalmine.cli.waiting import WaitSettings
    from coalmine.errors import CoalmineError

    try:
        seconds = parse_duration(timeout).total_seconds()
    except ValueError as error:
        raise CoalmineError(f"--timeout: {error}") from None
    return WaitSettings(timeout=seconds)
