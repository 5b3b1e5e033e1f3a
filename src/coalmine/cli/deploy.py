"""`coalmine deploy DEPLOYMENT`: ship a new release of a canary's target, and wait for it."""

from __future__ import annotations

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
from coalmine.cli.wait import (
    Output,
    OutputFormat,
    ReportFile,
    Timeout,
    finish_unreadable,
    wait_settings,
    write_report_after,
)

if TYPE_CHECKING:
    from coalmine.cli.progress import Report
    from coalmine.cli.waiting import WaitSettings
    from coalmine.targets.base import CanaryView, Target

__all__ = ["deploy", "parse_env"]


def deploy(
    deployment: Annotated[
        str, typer.Argument(help="The Deployment a Canary targets.", show_default=False)
    ],
    state_dir: StateDir,
    image: Annotated[
        str | None,
        typer.Option(help="New container image (Kubernetes).", show_default=False),
    ] = None,
    set_env: Annotated[
        list[str] | None,
        typer.Option(
            "--set-env",
            help="KEY=VALUE to set in the container's environment; repeat for more.",
            show_default=False,
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(help="The container to change, when there are several.", show_default=False),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the verdict on the new revision.")
    ] = False,
    canary_name: Annotated[
        str | None,
        typer.Option(
            "--canary",
            help="The Canary to wait on (default: the one targeting DEPLOYMENT).",
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
    """Ship a release: change the target Deployment, and with --wait, wait for its verdict.

    The image (--image) or environment (--set-env) changes; with --wait, coalmine waits
    for the canary's verdict on exactly the new revision.

    The new revision is computed after the change, so a Succeeded left over from the
    release before never counts. With --wait the exit codes are those of `coalmine wait`:
    0 promoted, 1 rolled back, 2 timed out, 3 the canary or the cluster/runtime could
    not be read. Without --wait, 0 once the change is written.

    Example:  coalmine deploy podinfo -n test --image podinfo:6.0.1 --wait --timeout 20m
    """
    from coalmine.cli.progress import report
    from coalmine.errors import CoalmineError, Unavailable

    env = parse_env(set_env or [])
    if image is None and not env:
        raise CoalmineError("nothing to deploy: give --image IMAGE or --set-env KEY=VALUE")
    if report_file is not None and not wait:
        raise CoalmineError("--report: the report is written at the verdict; add --wait")
    settings = wait_settings(timeout) if wait else None
    sink = report(output.value)
    options = target_options(state_dir, context, kubeconfig, namespace)
    change = _Change(deployment, image, env, container, canary_name, json=output == "json")

    async def work(target: Target) -> int:
        code = await change.run(target, settings, sink)
        if report_file is not None and change.found is not None:
            await write_report_after(target, change.found, None, report_file, metrics_server)
        return code

    try:
        code = run_on_target(options, work)
    except Unavailable as error:  # with --wait, a result object says so too
        if settings is None:
            raise
        code = finish_unreadable(sink, namespace or "", canary_name or deployment, None, str(error))
    raise typer.Exit(code)


def parse_env(pairs: list[str]) -> dict[str, str]:
    from coalmine.errors import CoalmineError

    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CoalmineError(f"--set-env {pair!r}: write KEY=VALUE, for example VERSION=0.0.2")
        env[key.strip()] = value
    return env


class _Change:
    """One deploy: find the canary (when waiting), write the change, wait for its verdict."""

    def __init__(
        self,
        deployment: str,
        image: str | None,
        env: dict[str, str],
        container: str | None,
        canary: str | None,
        *,
        json: bool,
    ) -> None:
        self.deployment = deployment
        self.image = image
        self.env = env
        self.container = container
        self.canary = canary
        self.json = json
        self.found: str | None = None
        """The name of the Canary waited on, once found."""

    async def run(self, target: Target, settings: WaitSettings | None, sink: Report) -> int:
        """Exit code: 0 once written without --wait; with it, the verdict's."""
        from coalmine.errors import CoalmineError

        namespace = target.namespace
        canary = None
        if settings is not None:
            try:
                canary = await self._canary(target, namespace)
                self.found = canary.name
            except CoalmineError as error:  # nothing written: the wait could not begin
                return finish_unreadable(sink, namespace, self.canary or "", None, str(error))
        before = await target.revision(namespace, self.deployment)
        after = await self._write(target, namespace)
        moved = f"revision {before[:8]} -> {after[:8]}" if after != before else "unchanged"
        self._say(f"deployment/{self.deployment} in {namespace}: {self._what()}; {moved}")
        if settings is None or canary is None:
            return 0
        from coalmine.cli.waiting import wait_for_verdict

        return await wait_for_verdict(target, canary, after, settings, sink)

    async def _write(self, target: Target, namespace: str) -> str:
        revision = ""
        if self.image is not None:
            revision = await target.set_image(
                namespace, self.deployment, self.image, self.container
            )
        if self.env:
            revision = await target.set_env(namespace, self.deployment, self.env, self.container)
        return revision

    async def _canary(self, target: Target, namespace: str) -> CanaryView:
        from coalmine.errors import NotFound

        if self.canary:
            return await target.canary(namespace, self.canary)
        found = [c for c in await target.canaries(namespace) if c.target == self.deployment]
        if not found:
            raise NotFound(
                f"no Canary in namespace {namespace} targets deployment {self.deployment};"
                " apply one first, or deploy without --wait"
            )
        if len(found) > 1:
            from coalmine.errors import CoalmineError

            names = ", ".join(c.name for c in found)
            raise CoalmineError(
                f"several Canaries target {self.deployment} ({names}); pick one with --canary"
            )
        return found[0]

    def _what(self) -> str:
        parts = [f"image {self.image}"] if self.image else []
        parts += [f"{k}={v}" for k, v in self.env.items()]
        return ", ".join(parts)

    def _say(self, line: str) -> None:
        typer.echo(line, err=self.json)
