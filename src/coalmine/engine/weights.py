"""Step math for the canary strategy: how far the next step goes, and where it stops."""

from __future__ import annotations

from coalmine.api.canary import CanaryAnalysis
from coalmine.engine.observations import Routes

__all__ = ["TOTAL_WEIGHT", "next_canary_weight", "next_promotion_routes"]

TOTAL_WEIGHT = 100


def next_canary_weight(analysis: CanaryAnalysis, canary_weight: int) -> int:
    """The canary weight after one more step, never above maxWeight.

    With stepWeight, add it; with stepWeights, go to the first one above the current
    weight. Flagger lets a stepWeight that does not divide maxWeight overshoot it;
    coalmine stops at maxWeight.
    """
    ceiling = analysis.effective_max_weight
    if analysis.step_weight is not None:
        return min(canary_weight + analysis.step_weight, ceiling)
    following = [w for w in analysis.step_weights or () if w > canary_weight]
    return min(following[0] if following else ceiling, ceiling)


def next_promotion_routes(analysis: CanaryAnalysis, routes: Routes) -> Routes:
    """Traffic after one promotion step: all to the primary, or stepWeightPromotion more.
    A baseline's share goes back to the primary at the first step (the primary now runs
    the canary's revision; the baseline runs the old one)."""
    step = analysis.step_weight_promotion or TOTAL_WEIGHT
    primary = min(routes.primary + routes.baseline + step, TOTAL_WEIGHT)
    return Routes(primary=primary, canary=TOTAL_WEIGHT - primary)
