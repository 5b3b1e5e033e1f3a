"""`coalmine manual init|split|finish|rollback SERVICE`: the canary by hand, one step a command.

Each command prints the manifests it applies (with --dry-run, only prints them), so
every step is also a plain manifest one could `kubectl apply`. The objects and the
labelling convention are in `coalmine.routing.manual`; docs/cli.md explains them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.targeting import (
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)

if TYPE_CHECKING:
    from coalmine.targets.base import Target

__all__ = ["app"]

app = typer.Typer(
    name="manual",
    help="The canary by hand: init, split, finish, rollback; each step prints its manifests.",
    no_args_is_help=True,
)

Service = Annotated[
    str,
    typer.Argument(
        help="The Service: its pods carry app: SERVICE; the releases release: primary"
        " or release: canary.",
        show_default=False,
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the manifests only; change nothing.")
]
Provider = Annotated[
    str | None,
    typer.Option(
        help="Router: istio (VirtualService), gatewayapi (HTTPRoute) or kubernetes (the"
        " Service's selector, blue/green). Default: init istio; the other steps find the"
        " object init wrote.",
        show_default=False,
    ),
]
Obj = dict[str, Any]


@app.command("init")
def init(
    service: Service,
    state_dir: StateDir,
    host: Annotated[str, typer.Option(help="The host the Gateway serves.")] = "*",
    provider: Provider = None,
    gateway_class: Annotated[
        str, typer.Option(help="gatewayapi: the Gateway's gatewayClassName.")
    ] = "istio",
    dry_run: DryRun = False,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Route SERVICE through a Gateway to the primary and canary releases, all on the primary.

    istio: a Gateway SERVICE for --host, a DestinationRule SERVICE with subsets primary
    and canary (by the pods' release label) and a VirtualService SERVICE at 100/0.
    gatewayapi: a Gateway API Gateway SERVICE, Services SERVICE-primary and
    SERVICE-canary, an HTTPRoute SERVICE at 100/0. kubernetes: the Service SERVICE
    selecting release: primary.

    Example:  coalmine manual init go-demo-7 -n go-demo-7 --host go-demo-7.example
    """
    from coalmine.routing import manual

    async def work(target: Target) -> None:
        ns = target.namespace
        chosen = provider or "istio"
        apex = None
        if chosen != "istio":
            apex = await _stored(target, "Service", service)
        objects = manual.init_objects(
            chosen, service, ns, host, apex=apex, gateway_class=gateway_class
        )
        await _show_and_apply(target, objects, dry_run)

    run_on_target(target_options(state_dir, context, kubeconfig, namespace), work)


@app.command("split")
def split(
    service: Service,
    state_dir: StateDir,
    canary: Annotated[
        int, typer.Option("--canary", help="Percent of traffic to the canary (0-100).")
    ],
    provider: Provider = None,
    dry_run: DryRun = False,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Send --canary percent of SERVICE's traffic to the canary release, the rest to the primary.

    Example:  coalmine manual split go-demo-7 -n go-demo-7 --canary 20
    """
    from coalmine.routing import manual

    async def work(target: Target) -> None:
        route = await _route(target, service, provider)
        await _show_and_apply(target, [manual.with_weights(route, canary)], dry_run)

    run_on_target(target_options(state_dir, context, kubeconfig, namespace), work)


@app.command("finish")
def finish(
    service: Service,
    state_dir: StateDir,
    timeout: Annotated[str, typer.Option(help="How long the primary's rollout may take.")] = "5m",
    provider: Provider = None,
    dry_run: DryRun = False,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Promote by hand: the primary takes the canary's pod template; once it has rolled
    out, all traffic goes to the primary and the canary is scaled to zero.

    Example:  coalmine manual finish go-demo-7 -n go-demo-7
    """
    from coalmine.api.common import parse_duration

    deadline = parse_duration(timeout).total_seconds()

    async def work(target: Target) -> None:
        from coalmine.routing import manual

        route = await _route(target, service, provider)
        primary, canary = await _releases(target, service)
        new_primary = manual.promoted(primary, canary)
        await _show_and_apply(target, [new_primary], dry_run)
        if not dry_run:
            await _rolled_out(target, new_primary["metadata"]["name"], deadline)
        await _show_and_apply(target, [manual.with_weights(route, 0)], dry_run)
        await _show_and_apply(target, [manual.scaled_to_zero(canary)], dry_run)

    run_on_target(target_options(state_dir, context, kubeconfig, namespace), work)


@app.command("rollback")
def rollback(
    service: Service,
    state_dir: StateDir,
    provider: Provider = None,
    dry_run: DryRun = False,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Roll back by hand: all traffic to the primary, then the canary scaled to zero.

    Example:  coalmine manual rollback go-demo-7 -n go-demo-7
    """

    async def work(target: Target) -> None:
        from coalmine.routing import manual

        route = await _route(target, service, provider)
        _, canary = await _releases(target, service)
        await _show_and_apply(target, [manual.with_weights(route, 0)], dry_run)
        await _show_and_apply(target, [manual.scaled_to_zero(canary)], dry_run)

    run_on_target(target_options(state_dir, context, kubeconfig, namespace), work)


async def _show_and_apply(target: Target, manifests: list[Obj], dry_run: bool) -> None:
    import yaml

    typer.echo("---\n" + yaml.safe_dump_all(manifests, sort_keys=False), nl=False)
    if dry_run:
        return
    for line in await target.apply(manifests):
        typer.echo(f"# {line}")


async def _route(target: Target, service: str, provider: str | None) -> Obj:
    """The object holding SERVICE's split: the provider's kind (routing.manual.ROUTE_KINDS),
    or, with no --provider, the VirtualService or HTTPRoute SERVICE, else the Service
    SERVICE when it selects a release (manual init --provider kubernetes)."""
    from coalmine.errors import CoalmineError, NotFound
    from coalmine.routing import manual

    ns = target.namespace
    if provider is not None:
        if provider not in manual.PROVIDERS:
            known = ", ".join(manual.PROVIDERS)
            raise CoalmineError(f"--provider {provider}: use one of {known}")
        kind = manual.ROUTE_KINDS[provider]
        found = await _stored(target, kind, service)
        if found is None:
            raise NotFound(
                f"{kind.lower()} {service} not found in namespace {ns}; create it with:"
                f" coalmine manual init {service} --provider {provider}"
            )
        return found
    routes = [
        found
        for kind in ("VirtualService", "HTTPRoute")
        if (found := await _stored(target, kind, service)) is not None
    ]
    if len(routes) > 1:
        raise CoalmineError(
            f"both virtualservice {service} and httproute {service} exist in namespace {ns};"
            " say which carries the split: --provider istio or --provider gatewayapi"
        )
    if routes:
        return routes[0]
    apex = await _stored(target, "Service", service)
    if apex is not None and manual.RELEASE_LABEL in (apex.get("spec") or {}).get("selector", {}):
        return apex
    raise NotFound(
        f"no virtualservice or httproute {service} in namespace {ns}, nor a service {service}"
        f" selecting a release; create them with: coalmine manual init {service}"
        f" [--provider {'|'.join(manual.PROVIDERS)}]"
    )


async def _stored(target: Target, kind: str, name: str) -> Obj | None:
    """The object as a manifest (apiVersion and kind included), or None."""
    from coalmine.routing import manual
    from coalmine.targets.patches import manifest_of

    found = await target.get_object(kind, target.namespace, name)
    if found is None:
        return None
    api_version = {
        "VirtualService": manual.ISTIO_API,
        "HTTPRoute": manual.GATEWAY_API,
        "Service": "v1",
    }[kind]
    return manifest_of({"apiVersion": api_version, "kind": kind, **found})


async def _releases(target: Target, service: str) -> tuple[Obj, Obj]:
    """The primary and canary Deployments, by their pods' labels."""
    from coalmine.routing import manual
    from coalmine.targets.patches import manifest_of

    ns = target.namespace
    deployments = [manifest_of(d) for d in await target.objects("Deployment", ns)]
    primary = manual.find_release(deployments, service, manual.PRIMARY, ns)
    canary = manual.find_release(deployments, service, manual.CANARY, ns)
    return primary, canary


async def _rolled_out(target: Target, deployment: str, within: float) -> None:
    """Wait for the Deployment's rollout, saying where it is; fail past the deadline."""
    import asyncio

    from coalmine.errors import CoalmineError

    deadline = time.monotonic() + within
    said = ""
    while True:
        rollout = await target.rollout(target.namespace, deployment)
        if rollout.done:
            typer.echo(f"# deployment/{deployment} rolled out ({rollout.available} available)")
            return
        line = (
            f"# waiting for deployment/{deployment}: {rollout.updated}/{rollout.replicas}"
            f" updated, {rollout.available} available"
        )
        if line != said:
            typer.echo(line)
            said = line
        if time.monotonic() > deadline:
            raise CoalmineError(
                f"deployment {deployment} did not finish its rollout within {within:g}s;"
                " traffic was not moved. Check it, then run manual finish again, or"
                " manual rollback"
            )
        await asyncio.sleep(0.5)
