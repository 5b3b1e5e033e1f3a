"""Options every pipeline command shares to find its target, and running a command on it.

The rule that picks the target is in `coalmine.targets.select`; this module only turns
flags into `TargetOptions` and runs the command's coroutine with the target open.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from coalmine.targets.base import Target
    from coalmine.targets.select import TargetOptions

__all__ = [
    "By",
    "Context",
    "Kubeconfig",
    "TargetNamespace",
    "default_by",
    "run_on_target",
    "target_options",
]

T = TypeVar("T")

Context = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="A kubeconfig context: act on that Kubernetes cluster.",
        show_default=False,
    ),
]
Kubeconfig = Annotated[
    Path | None,
    typer.Option(
        "--kubeconfig",
        help="A kubeconfig file: act on that Kubernetes cluster.",
        show_default=False,
    ),
]
TargetNamespace = Annotated[
    str | None,
    typer.Option(
        "-n",
        "--namespace",
        envvar="COALMINE_NAMESPACE",
        help="Namespace (default: the kubeconfig context's, else default).",
        show_default=False,
    ),
]


def default_by() -> str:
    """Who asks: $USER@hostname."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER", "someone")
    return f"{user}@{socket.gethostname()}"


By = Annotated[
    str,
    typer.Option(
        "--by",
        help="Who asks, recorded in the canary's events.",
        default_factory=default_by,
        show_default="$USER@hostname",
    ),
]


def target_options(
    state_dir: Path,
    context: str | None,
    kubeconfig: Path | None,
    namespace: str | None,
) -> TargetOptions:
    from coalmine.targets.select import TargetOptions

    return TargetOptions(
        state_dir=state_dir, context=context, kubeconfig=kubeconfig, namespace=namespace
    )


def run_on_target(
    options: TargetOptions, work: Callable[[Target], Awaitable[T]], *, grace: float = 0.0
) -> T:
    """Open the target the rule picks, run `work` on it, close it; one event loop.

    With `grace` (coalmine wait), a `coalmine up` that is restarting (its api.json names a
    pid that is gone) is waited for before the rule picks, and a target that cannot be
    reached is retried, each for up to `grace` seconds. When there is nothing to wait for
    (no `coalmine up`, live or restarting, at the state directory, and no kubeconfig: say a
    mistyped --state-dir), the rule's Unavailable is raised at once: no grace brings
    either into being."""
    import asyncio

    async def main() -> T:
        from coalmine.cli.waiting import riding
        from coalmine.targets.select import choose, open_target, wait_for_restart

        if grace > 0:
            await wait_for_restart(options, grace)
        choose(options)  # nothing to reach at all: fail now, not after the grace
        target = await riding(lambda: open_target(options), grace)
        try:
            return await work(target)
        finally:
            await target.close()

    return asyncio.run(main())
