"""`coalmine doctor`: is everything a canary needs there? One line per check, with the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.targeting import Context, Kubeconfig, TargetNamespace, target_options

if TYPE_CHECKING:
    from coalmine.doctor.checks import Check
    from coalmine.targets.select import TargetOptions

__all__ = ["doctor"]

DEFAULT_METRICS_SERVER = "http://prometheus.istio-system:9090"


def doctor(
    state_dir: StateDir,
    metrics_server: Annotated[
        str,
        typer.Option(
            envvar="COALMINE_PROMETHEUS_URL",
            help="Prometheus to check (Kubernetes); env COALMINE_PROMETHEUS_URL.",
        ),
    ] = DEFAULT_METRICS_SERVER,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Check what a canary needs, one line each: OK, or what is wrong and the fix.

    The target is picked as for every command (flags, a running coalmine up, a
    kubeconfig). Locally: coalmine up running, its Envoy ready, the state directory
    writable, prometheus on PATH (optional). In Kubernetes: the cluster reachable,
    Istio's CRDs and coalmine's, the namespace labelled for sidecar injection, pods
    carrying sidecars, Prometheus answering with istio_requests_total, the coalmine
    controller available. Exit code 0 when every check passes, 1 otherwise.

    Example:  coalmine doctor --context prod -n go-demo-7 --metrics-server http://127.0.0.1:9090
    """
    from coalmine.doctor.checks import Check, render, verdict
    from coalmine.errors import Unavailable
    from coalmine.targets.select import choose

    options = target_options(state_dir, context, kubeconfig, namespace)
    preface: list[Check] = []
    try:
        mode = choose(options)
    except Unavailable:
        mode = "local"
        preface.append(
            Check.note(
                "target",
                "no kubeconfig found either",
                "for Kubernetes: --kubeconfig PATH, --context NAME or KUBECONFIG",
            )
        )
    if mode == "local":
        from coalmine.doctor.local import local_checks

        checks = preface + local_checks(state_dir)
    else:
        checks = _kube(options, metrics_server)
    typer.echo(render(checks))
    raise typer.Exit(verdict(checks))


def _kube(options: TargetOptions, metrics_server: str) -> list[Check]:
    """The cluster's checks; a cluster that cannot even be connected to is one failed line."""
    import asyncio

    from coalmine.doctor.checks import Check
    from coalmine.errors import Unavailable

    async def run() -> list[Check]:
        from coalmine.doctor.kube import kube_checks
        from coalmine.kube.runtime.connection import close, connect
        from coalmine.kube.runtime.settings import ClusterSettings

        settings = ClusterSettings(kubeconfig=options.kubeconfig, context=options.context)
        try:
            client = await connect(settings)
        except Unavailable as error:
            return [Check.fail("cluster reachable", str(error), "check --kubeconfig/--context")]
        try:
            namespace = options.namespace or client.default_namespace
            return await kube_checks(client, namespace, metrics_server)
        finally:
            await close(client)

    return asyncio.run(run())
