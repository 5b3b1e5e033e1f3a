"""`coalmine events`: what the local runtime did, oldest first; --watch follows."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from coalmine.cli.common import AllNamespaces, Namespace, StateDir, client

__all__ = ["events"]


def events(
    state_dir: StateDir,
    namespace: Namespace = "default",
    all_namespaces: AllNamespaces = False,
    name: Annotated[
        str | None, typer.Option("--for", help="Only events about this object.")
    ] = None,
    watch: Annotated[bool, typer.Option("-w", "--watch", help="Keep printing new events.")] = False,
    limit: Annotated[int, typer.Option(help="How many past events to show.")] = 50,
) -> None:
    """Show the events of the local runtime (canary decisions, rollouts, warnings).

    Example:  coalmine events -n go-demo-7 --for go-demo-7 --watch
    """
    local = client(state_dir)
    scope = None if all_namespaces else namespace
    last = 0
    while True:
        found = local.events(scope, name, after=last, limit=limit)
        for event in found:
            marker = "!" if event["type"] == "Warning" else " "
            stamp = event["time"][11:19]
            typer.echo(f"{stamp} {marker} {event['namespace']}/{event['name']}: {event['message']}")
            last = event["id"]
        if not watch:
            return
        time.sleep(1.0)
