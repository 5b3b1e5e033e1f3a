"""`coalmine install`: put the CRDs, RBAC and controller into the current cluster."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["install"]


class Output(StrEnum):
    YAML = "yaml"
    JSON = "json"


def install(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the manifests instead of applying them.")
    ] = False,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace the controller runs in.")
    ] = "coalmine-system",
    watch_namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--watch-namespace",
            help="Reconcile canaries of this namespace only; repeatable. Default: all.",
        ),
    ] = None,
    flagger_compat: Annotated[
        bool,
        typer.Option(
            "--flagger-compat", help="Also reconcile flagger.app resources (and allow it)."
        ),
    ] = False,
    flagger_crds: Annotated[
        bool,
        typer.Option(
            "--flagger-crds",
            help="Also install the flagger.app CRDs (only where Flagger's are not installed).",
        ),
    ] = False,
    image: Annotated[str | None, typer.Option("--image", help="Controller image.")] = None,
    loadtester_token_secret: Annotated[
        str,
        typer.Option(
            "--loadtester-token-secret",
            help="Secret (key: token) in the controller's namespace whose value the controller "
            "sends to the load tester (docs/security.md). Default: none.",
        ),
    ] = "",
    loadtester: Annotated[
        bool,
        typer.Option(
            "--loadtester",
            help="Also run coalmine's load tester (Service loadtester) in the controller's "
            "namespace.",
        ),
    ] = False,
    loadtester_commands: Annotated[
        bool,
        typer.Option(
            "--loadtester-commands",
            help="Its cmd and bash tasks; needs --loadtester and --loadtester-token-secret.",
        ),
    ] = False,
    metrics_server: Annotated[
        str, typer.Option("--metrics-server", help="Prometheus that canaries query.")
    ] = "http://prometheus.istio-system:9090",
    output: Annotated[
        Output, typer.Option("--output", "-o", help="Format of --dry-run output.")
    ] = Output.YAML,
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context (default: current).")
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="kubeconfig file (default: KUBECONFIG).")
    ] = None,
    force_conflicts: Annotated[
        bool,
        typer.Option(
            "--force-conflicts",
            help="Take over fields another field manager changed since (server-side apply).",
        ),
    ] = False,
) -> None:
    """Install coalmine: its CRDs, RBAC, and the controller Deployment.

    Applies the same objects as deploy/kustomize/base, adjusted by the options, with
    server-side apply (field manager "coalmine"), one line per object; the controller's
    replicas are left as they are when it already runs. Exit code 3 when no cluster is
    reachable. With --dry-run, prints them instead and needs no cluster.

    Example:  coalmine install --dry-run -o yaml | kubectl apply -f -
    """
    import asyncio

    from coalmine.kube.install.manifests import DEFAULT_IMAGE, InstallOptions, install_objects

    if loadtester_commands and not (loadtester and loadtester_token_secret):
        raise typer.BadParameter(
            "needs --loadtester and --loadtester-token-secret SECRET (the token it requires)",
            param_hint="--loadtester-commands",
        )
    options = InstallOptions(
        namespace=namespace,
        image=image or DEFAULT_IMAGE,
        metrics_server=metrics_server,
        watch_namespaces=tuple(watch_namespace or ()),
        flagger_compat=flagger_compat or flagger_crds,
        flagger_crds=flagger_crds,
        loadtester_token_secret=loadtester_token_secret,
        loadtester=loadtester,
        loadtester_commands=loadtester_commands,
    )
    objects = install_objects(options)
    if dry_run:
        _print(objects, output)
        return
    asyncio.run(_apply(objects, kubeconfig, context, force_conflicts))


def _print(objects: list[dict[str, object]], output: Output) -> None:
    if output is Output.JSON:
        typer.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2))
        return
    from coalmine.kube.install.deploy_files import render_yaml

    typer.echo(render_yaml(objects), nl=False)


async def _apply(
    objects: list[dict[str, object]], kubeconfig: str | None, context: str | None, force: bool
) -> None:
    from coalmine.kube.install.apply import apply_objects, connect

    api = await connect(kubeconfig, context)
    report = lambda applied: typer.echo(str(applied))  # noqa: E731
    await apply_objects(api, objects, report, force_conflicts=force)
