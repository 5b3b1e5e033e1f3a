"""`coalmine promote|abort|pause|resume CANARY`: a person steps in, and it is on record.

Each command reads the canary first and refuses (exit 1) where the action makes no
sense, before writing anything; the engine refuses stale requests again when it acts
(the phase may move in between). promote and abort write the request annotation
(`coalmine.engine.requests`), acted upon once at the next tick; pause and resume set
`spec.suspend`. Each records an event naming who asked (`--by`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coalmine.cli.common import StateDir
from coalmine.cli.targeting import (
    By,
    Context,
    Kubeconfig,
    TargetNamespace,
    run_on_target,
    target_options,
)
from coalmine.targets.asking import refusal, said

if TYPE_CHECKING:
    from coalmine.targets.base import Asked, CanaryView, Target
    from coalmine.targets.select import TargetOptions

__all__ = ["abort", "pause", "promote", "refusal", "resume"]

CanaryName = Annotated[str, typer.Argument(help="Name of the Canary.", show_default=False)]


def promote(
    canary: CanaryName,
    state_dir: StateDir,
    by: By,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Promote the revision under analysis now, skipping the rest of its analysis.

    Only while the canary is Progressing or WaitingPromotion (a closed confirm-promotion
    gate is overridden). The next tick copies the canary's pod template to the primary.

    Example:  coalmine promote go-demo-7 -n go-demo-7 --by alice
    """
    _act("promote", canary, by, target_options(state_dir, context, kubeconfig, namespace))


def abort(
    canary: CanaryName,
    state_dir: StateDir,
    by: By,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Roll the revision under analysis back now.

    Only while the canary is Progressing, WaitingPromotion or Waiting. The next tick
    routes all traffic to the primary and scales the canary to zero: phase Failed.

    Example:  coalmine abort go-demo-7 -n go-demo-7 --by alice
    """
    _act("abort", canary, by, target_options(state_dir, context, kubeconfig, namespace))


def pause(
    canary: CanaryName,
    state_dir: StateDir,
    by: By,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Pause a canary (spec.suspend): coalmine takes no action on it until resumed.

    Traffic stays where it is; nothing is reset.

    Example:  coalmine pause go-demo-7 -n go-demo-7
    """
    _act("pause", canary, by, target_options(state_dir, context, kubeconfig, namespace))


def resume(
    canary: CanaryName,
    state_dir: StateDir,
    by: By,
    namespace: TargetNamespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Resume a paused canary: the analysis carries on where it stopped.

    Example:  coalmine resume go-demo-7 -n go-demo-7
    """
    _act("resume", canary, by, target_options(state_dir, context, kubeconfig, namespace))


def _act(asked: Asked, name: str, by: str, options: TargetOptions) -> None:
    from coalmine.errors import CoalmineError

    async def work(target: Target) -> str:
        canary = await target.canary(target.namespace, name)
        refused = refusal(canary, asked)
        if refused:
            raise CoalmineError(refused)
        summary = await _release(target, canary) if asked == "promote" else ""
        await target.ask(canary, asked, by)
        return said(canary, asked, by, summary)

    typer.echo(run_on_target(options, work))


async def _release(target: Target, canary: CanaryView) -> str:
    """What the revision under analysis runs (images, or VERSION-like env values)."""
    from coalmine.api.templates import template_summary

    deployment = await target.get_object("Deployment", canary.namespace, canary.target)
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    return template_summary(template)
