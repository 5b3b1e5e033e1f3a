"""A confidence sequence for a difference measured once per tick.

Each tick brings one estimate d_t of the difference between canary and reference,
measured within that tick (so that drift and disturbances shared by both sides
cancel), with its variance v_t. Under a constant true difference D the sum
Z_t = sum((d_i - D) / v_i) is a martingale with variance I_t = sum(1 / v_i).

Mixing the exponential martingales exp(l*Z - l^2*I/2) over l ~ N(0, tau^2) gives

    M_t = (1 + tau^2 I_t)^(-1/2) * exp(tau^2 Z_t^2 / (2 (1 + tau^2 I_t)))

and by Ville's inequality P(sup_t M_t >= 1/alpha) <= alpha. The D for which M_t stays
below 1/alpha form a confidence sequence, valid at every tick at once:

    D_hat_t +- sqrt((1 + tau^2 I) / (tau^2 I^2) * (2 log(1/alpha) + log(1 + tau^2 I)))

This is the normal-mixture boundary of Howard, Ramdas, McAuliffe and Sekhon (Annals of
Statistics, 2021), the same statistic as the mixture SPRT of Johari, Pekelis and Walsh
(Operations Research, 2022). tau is the scale of differences that matter (the margin):
the boundary is tightest around the evidence needed to resolve them. With estimated
variances the guarantee is asymptotic (Waudby-Smith et al., "Time-uniform central
limit theory", 2021); tests/judge check the false-rollback rate by simulation.

Each decision is one-sided (rollback: the lower bound above the margin; advance: the
upper bound below it), so the judge uses `one_sided_width`, the half-normal mixture; the
two-sided `interval` is kept for reference and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Interval", "half_width", "interval", "one_sided_width"]


@dataclass(frozen=True)
class Interval:
    estimate: float
    lower: float
    upper: float


def half_width(precision: float, alpha: float, tau: float) -> float:
    """Half the width of the confidence sequence after evidence of `precision`."""
    if precision <= 0:
        return math.inf
    spread = tau * tau * precision
    return math.sqrt(
        (1 + spread)
        / (tau * tau * precision * precision)
        * (2 * math.log(1 / alpha) + math.log1p(spread))
    )


def interval(precision: float, weighted: float, alpha: float, tau: float) -> Interval | None:
    """The inverse-variance weighted difference and its anytime-valid interval."""
    if precision <= 0:
        return None
    estimate = weighted / precision
    width = half_width(precision, alpha, tau)
    return Interval(estimate, estimate - width, estimate + width)


def one_sided_width(precision: float, alpha: float, tau: float) -> float:
    """How far below the estimate a lower bound lies (or above it an upper bound) that
    holds at every tick with probability 1 - alpha.

    Mixing over l >= 0 only (a half-normal of scale tau) gives the one-sided mixture

        M+ = 2 (1 + tau^2 I)^(-1/2) exp(w^2 / 2) Phi(w),   w = tau Z / sqrt(1 + tau^2 I)

    (Howard et al. 2021, the one-sided normal mixture); the bound is where M+ = 1/alpha,
    solved with scipy (imported here, so that importing the judge stays light). About
    log 2 tighter than the two-sided boundary at the same alpha.
    """
    if precision <= 0:
        return math.inf
    from scipy.optimize import brentq
    from scipy.special import log_ndtr

    spread = 1 + tau * tau * precision
    target = math.log(1 / alpha) - math.log(2) + 0.5 * math.log(spread)

    def excess(w: float) -> float:
        return float(w * w / 2 + log_ndtr(w)) - target

    w = brentq(excess, -5.0, 100.0)
    return float(w) * math.sqrt(spread) / (tau * precision)
