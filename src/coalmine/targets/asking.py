"""When a person may step in: the rule the CLI and the dashboard both apply before
asking a canary to promote, abort, pause or resume."""

from __future__ import annotations

from coalmine.targets.base import Asked, CanaryView

__all__ = ["ALLOWED_PHASES", "ASKED", "refusal"]

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
