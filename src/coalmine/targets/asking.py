"""When a person may step in, and what it does: the rule and the words the CLI and the
dashboard share for promote, abort, pause and resume."""

from __future__ import annotations

from coalmine.targets.base import Asked, CanaryView

__all__ = ["ALLOWED_PHASES", "ASKED", "refusal", "said"]

ASKED: tuple[Asked, ...] = ("promote", "abort", "pause", "resume")

ALLOWED_PHASES: dict[str, tuple[str, ...]] = {
    "promote": ("Progressing", "WaitingPromotion"),
    "abort": ("Progressing", "WaitingPromotion", "Waiting"),
}


def refusal(canary: CanaryView, asked: Asked) -> str | None:
    """Why `asked` makes no sense for the canary as it is now; None when it does."""
    phase = canary.phase or "not initialized"
    if asked == "pause":
        return f"{canary.name} is already paused" if canary.suspended else None
    if asked == "resume":
        return None if canary.suspended else f"{canary.name} is not paused (it is {phase})"
    if canary.suspended:
        return f"cannot {asked} {canary.name}: it is paused; resume it first"
    allowed = ALLOWED_PHASES[asked]
    if phase not in allowed:
        return (
            f"cannot {asked} {canary.name}: it is {phase}; {asked} works while the canary"
            f" is {' or '.join(allowed)}"
        )
    return None


def said(canary: CanaryView, asked: Asked, by: str, summary: str) -> str:
    """What happened, and what happens next."""
    primary = f"{canary.target}-primary"
    revision = (canary.last_applied or "")[:8]
    if asked == "promote":
        what = f"revision {revision}" + (f" ({summary})" if summary else "")
        return (
            f"promotion of {canary.name} requested by {by}; the next tick copies {what}"
            f" to {primary}"
        )
    if asked == "abort":
        return (
            f"rollback of {canary.name} requested by {by}; the next tick routes all traffic"
            f" to {primary} and scales {canary.target} to zero"
        )
    if asked == "pause":
        return (
            f"{canary.name} paused by {by}: coalmine takes no action on it (canary weight"
            f" stays at {canary.weight}%) until `coalmine resume {canary.name}`"
        )
    return (
        f"{canary.name} resumed by {by}: it carries on from {canary.phase}"
        f" at canary weight {canary.weight}%"
    )
