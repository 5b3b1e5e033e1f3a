"""`coalmine status [CANARY]`: a table of canaries, or one canary in detail with its events."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coalmine.cli.common import AllNamespaces, StateDir, age, table
from coalmine.cli.targeting import (
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)

if TYPE_CHECKING:
    from coalmine.targets.base import CanaryView, EventView, Target

__all__ = ["canaries_table", "canary_detail", "status"]

WATCH_SECONDS = 2.0


def status(
    state_dir: StateDir,
    canary: Annotated[
        str | None, typer.Argument(help="A Canary to show in detail.", show_default=False)
    ] = None,
    all_namespaces: AllNamespaces = False,
    watch: Annotated[
        bool, typer.Option("-w", "--watch", help="Redraw every 2 s until Ctrl-C.")
    ] = False,
    events: Annotated[int, typer.Option(help="Recent events shown for one canary.")] = 10,
    output: Annotated[
        str, typer.Option("-o", "--output", help="text, or json (spec and status as served).")
    ] = "text",
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Show where canaries are, or one canary in detail with its revisions and events.

    The table shows each canary's phase, canary weight, failed checks against the
    threshold, last transition and the revision analysed last.

    Works the same on the local runtime and on a Kubernetes cluster.

    Example:  coalmine status -A --watch
    """
    options = target_options(state_dir, context, kubeconfig, namespace)
    if output not in ("text", "json"):
        from coalmine.errors import CoalmineError

        raise CoalmineError(f"-o {output!r}: use text or json")

    async def work(target: Target) -> None:
        scope = None if all_namespaces else target.namespace
        if output == "json":
            typer.echo(await _as_json(target, canary, scope))
            return
        last = ""
        while True:
            if canary is not None:
                text = await canary_detail(target, target.namespace, canary, events)
            else:
                text = canaries_table(await target.canaries(scope), scope)
            if text != last:
                _show(text, watch)
                last = text
            if not watch:
                return
            await _sleep(WATCH_SECONDS)

    run_on_target(options, work)


async def _as_json(target: Target, name: str | None, scope: str | None) -> str:
    """One canary, or every canary in scope, as the API serves them (the judge's
    estimates and intervals are in status.judge)."""
    import json

    def item(view: CanaryView) -> dict[str, Any]:
        return {
            "name": view.name,
            "namespace": view.namespace,
            "spec": view.spec,
            "status": view.status,
        }

    if name is not None:
        return json.dumps(item(await target.canary(target.namespace, name)), indent=2)
    return json.dumps([item(view) for view in await target.canaries(scope)], indent=2)


def canaries_table(canaries: list[CanaryView], namespace: str | None) -> str:
    if not canaries:
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        return f"No canaries found {where}"
    headers = ["NAME", "PHASE", "WEIGHT", "FAILED", "LAST TRANSITION", "REVISION"]
    rows = [_row(c, with_namespace=namespace is None) for c in canaries]
    return table((["NAMESPACE"] if namespace is None else []) + headers, rows)


def _row(canary: CanaryView, *, with_namespace: bool) -> list[str]:
    phase = (canary.phase or "<pending>") + (" (paused)" if canary.suspended else "")
    row = [
        canary.name,
        phase,
        f"{canary.weight}%",
        f"{canary.failed_checks}/{canary.threshold}",
        age(canary.last_transition),
        (canary.last_applied or "")[:8],
    ]
    return [canary.namespace, *row] if with_namespace else row


async def canary_detail(target: Target, namespace: str, name: str, limit: int) -> str:
    from coalmine.cli.describe import render_canary

    canary = await target.canary(namespace, name)
    recent = await target.events(namespace, name, limit=limit)
    item = {
        "name": canary.name,
        "namespace": canary.namespace,
        "manifest": {"spec": canary.spec},
        "status": canary.status,
    }
    text = render_canary(item, [_event_item(e) for e in recent])
    head, _, tail = text.partition("\nStatus:")
    return "\n".join([head, *await _revisions(target, canary), "Status:" + tail])


async def _revisions(target: Target, canary: CanaryView) -> list[str]:
    """The target's current revision next to the ones the canary analysed and promoted."""
    from coalmine.errors import CoalmineError

    try:
        current = (await target.revision(canary.namespace, canary.target))[:8]
    except CoalmineError as error:
        current = f"unknown ({error})"
    lines = [
        f"Revisions:    target {current}, analysed {(canary.last_applied or '-')[:8]},"
        f" promoted {(canary.last_promoted or '-')[:8]}"
    ]
    if canary.suspended:
        lines.append(f"Paused:       yes; resume with: coalmine resume {canary.name}")
    return lines


def _event_item(event: EventView) -> dict[str, Any]:
    return {"type": event.type, "time": event.time.isoformat(), "message": event.message}


def _show(text: str, watch: bool) -> None:
    if watch and _is_terminal():
        typer.echo("\x1b[2J\x1b[H", nl=False)  # clear the screen, cursor home
    if watch:
        typer.echo(time.strftime("%H:%M:%S"))
    typer.echo(text)


def _is_terminal() -> bool:
    import sys

    return sys.stdout.isatty()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
