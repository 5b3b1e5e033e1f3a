"""How well three judges decide canaries, on one seeded corpus of simulated releases.

    .venv/bin/python -m benchmarks.judgement [--seeds 10] [--json FILE]

The corpus: 6 traffic levels (0.5 to 200 req/s) x 9 kinds of release x `--seeds` (10
gives 540 releases). Kinds: good (three in nine: plain, with a shared incident, with
traffic bursts), +0.5 / +2 / +10 points of errors, 1.1x / 1.5x / 3x slower. Every
release has its own base error rate (0.02..0.5 %, uniform in log) and median latency (20..200 ms),
a drift of both over time, each side's own slow fluctuation (autocorrelated: 5 % on
latency, 30 % on the error rate), and with probability 1/3 a shared incident (two ticks at
+5 points of errors and twice the latency on both sides) and traffic bursts (x3). The
canary's share of traffic is the weight the engine sets (20/40/60 %), tick by tick.
Latency histograms use buckets 10 % apart (see BENCHMARKS.md for Istio's defaults).

The judges run through the real engine (`coalmine.testing.replay`, the Python API of
`coalmine simulate --observations`), one minute per tick, at most 30 ticks:
- flagger: request-success-rate >= 99 and request-duration (p99) <= twice the service's
  normal p99, threshold 5 failed checks (cumulative), as a user tunes Flagger per service;
- kayenta: Mann-Whitney U (scipy) of the canary's per-tick error rate and p99 against
  the primary's over the last 5 ticks, classified High at 98 % confidence beyond a
  tolerance (+0.5 pt, +10 %); score = share of metrics that pass; rollback below 75;
- judge: spec.analysis.judge, errors +1 pt, latency p90 +25 %, 99 % confidence, 30m;
- judge-.5: the same with errors +0.5 pt (Kayenta's tolerance), for the trade-off.

"Clearly bad" is +2 points or more, 1.5x slower or more; +0.5 points and 1.1x are at
the margins and reported apart. Failed requests served: the canary's 5xx answers in
clearly bad releases until the verdict (to the end of the analysis when promoted).
"Floor": what they serve in their first tick, the least any judge can serve (every judge
starts at the same weight and decides at the end of a tick at the earliest; the first
tick's counts do not depend on the judge).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coalmine.api import Canary, CanaryMetric, parse_resource
from coalmine.judge.observations import Histogram, Side, TickObservation
from coalmine.testing.replay import CustomMetric, replay

RATES = (0.5, 2.0, 5.0, 10.0, 50.0, 200.0)
KINDS = ("good", "good-incident", "good-bursts", "+0.5pt", "+2pt", "+10pt", "1.1x", "1.5x", "3x")
CLEARLY_BAD = ("+2pt", "+10pt", "1.5x", "3x")
MARGINAL = ("+0.5pt", "1.1x")
TICKS = 30
INTERVAL_S = 60
BOUNDS = tuple(round(1.1**k, 4) for k in range(1, 120))
"""Latency bucket bounds in ms, 10 % apart, from 1.1 ms to about 80 s."""
POINTS_PER_TICK = 6
"""10-second points per one-minute tick, the resolution Kayenta compares series at."""
PERSISTENCE = 0.9
"""AR(1) coefficient of each side's own fluctuation, per 10-second point."""
SIGMA = 0.5
"""Spread of log-latency: p99 is about 3.2x the median, p90 about 1.9x."""


@dataclass(frozen=True)
class Release:
    number: int
    rate: float
    kind: str
    seed: int

    @property
    def good(self) -> bool:
        return self.kind.startswith("good")

    @property
    def clearly_bad(self) -> bool:
        return self.kind in CLEARLY_BAD

    @property
    def extra_errors(self) -> float:
        return {"+0.5pt": 0.005, "+2pt": 0.02, "+10pt": 0.10}.get(self.kind, 0.0)

    @property
    def slower(self) -> float:
        return {"1.1x": 1.1, "1.5x": 1.5, "3x": 3.0}.get(self.kind, 1.0)


class World:
    """One release's traffic: observations made on demand for the weight of each tick."""

    def __init__(self, release: Release) -> None:
        import numpy as np

        self.release = release
        self.rng = np.random.default_rng(release.seed)
        rng = self.rng
        self.base_errors = float(math.exp(rng.uniform(math.log(0.0002), math.log(0.005))))
        self.median_ms = float(rng.uniform(20, 200))
        self.drift = float(rng.uniform(-0.02, 0.04))
        incident = release.kind == "good-incident" or rng.random() < 1 / 3
        start = int(rng.integers(1, 8))
        self.incident = {start, start + 1} if incident else set()
        bursts = release.kind == "good-bursts" or rng.random() < 1 / 3
        self.bursts = {int(t) for t in rng.integers(0, TICKS, 6)} if bursts else set()
        self.canary_errors = 0
        self.first_tick_errors = 0
        """The canary's 5xx in the first tick: no judge can stop it sooner."""
        self.noise = {"primary": [0.0, 0.0], "canary": [0.0, 0.0]}
        """Per side, slowly varying log-factors on latency and on the error rate."""
        self.points: list[list[TickObservation]] = []
        """Per tick, its 10-second points: Kayenta's time series."""

    @property
    def normal_p99_ms(self) -> float:
        return self.median_ms * math.exp(2.326 * SIGMA)

    def __call__(self, tick: int, weight: int) -> TickObservation | None:
        """The tick's counts: the sum of six 10-second points (Kayenta's resolution)."""
        if tick >= TICKS:
            return None
        points = [self._point(tick, weight) for _ in range(POINTS_PER_TICK)]
        self.points.append(points)
        canary = _sum([point.canary for point in points])
        self.canary_errors += canary.errors
        if tick == 0:
            self.first_tick_errors = canary.errors
        return TickObservation(primary=_sum([point.primary for point in points]), canary=canary)

    def _point(self, tick: int, weight: int) -> TickObservation:
        rng = self.rng
        load = self.release.rate * INTERVAL_S / POINTS_PER_TICK
        total = int(rng.poisson(load * (3 if tick in self.bursts else 1)))
        canary_n = int(rng.binomial(total, weight / 100))
        primary_n = total - canary_n
        hit = tick in self.incident
        errors = self.base_errors * math.exp(self.drift * tick) + (0.05 if hit else 0.0)
        median = self.median_ms * math.exp(self.drift * tick) * (2 if hit else 1)
        (p_slow, p_err), (c_slow, c_err) = self._wander("primary"), self._wander("canary")
        canary_rate = min(1.0, errors * c_err + self.release.extra_errors)
        canary_e = int(rng.binomial(canary_n, canary_rate))
        primary_e = int(rng.binomial(primary_n, min(1.0, errors * p_err)))
        return TickObservation(
            primary=Side(primary_n, primary_e, self._histogram(primary_n, median * p_slow)),
            canary=Side(
                canary_n,
                canary_e,
                self._histogram(canary_n, median * self.release.slower * c_slow),
            ),
        )

    def _wander(self, side: str) -> tuple[float, float]:
        """Each side's own slow fluctuation (its pods, its neighbours): AR(1) per point,
        stationary sd 5 % on latency and 30 % on the error rate. Autocorrelated, and not
        the release's fault."""
        state = self.noise[side]
        for index, sd in enumerate((0.05, 0.30)):
            state[index] = PERSISTENCE * state[index] + self.rng.normal(
                0, sd * math.sqrt(1 - PERSISTENCE**2)
            )
        return math.exp(state[0]), math.exp(state[1])

    def _histogram(self, n: int, median: float) -> Histogram:
        import numpy as np

        values = self.rng.lognormal(math.log(median), SIGMA, n)
        counts = np.bincount(
            np.searchsorted(BOUNDS, values, side="left"), minlength=len(BOUNDS) + 1
        )
        return Histogram(BOUNDS, tuple(int(c) for c in counts))


def _sum(sides: list[Side]) -> Side:
    latency = None
    for side in sides:
        if side.latency is not None:
            latency = side.latency if latency is None else latency.plus(side.latency)
    return Side(sum(s.requests for s in sides), sum(s.errors for s in sides), latency)


# The three judges -------------------------------------------------------------------------


def canary(analysis: dict[str, Any]) -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "app", "namespace": "bench"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
            "service": {"port": 80},
            "analysis": {
                "interval": f"{INTERVAL_S}s",
                "stepWeight": 20,
                "maxWeight": 60,
                **analysis,
            },
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def flagger(world: World) -> Canary:
    return canary(
        {
            "threshold": 5,
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                {
                    "name": "request-duration",
                    "thresholdRange": {"max": round(2 * world.normal_p99_ms)},
                },
            ],
        }
    )


def kayenta(world: World) -> Canary:
    return canary(
        {
            "threshold": 1,
            "metrics": [
                {"name": "kayenta-score", "query": "mann-whitney", "thresholdRange": {"min": 75}}
            ],
        }
    )


def judge(world: World, errors_margin: float = 1) -> Canary:
    return canary(
        {
            "metrics": [],
            "judge": {
                "errors": {"maxIncrease": errors_margin},
                "latency": {"quantile": 0.9, "maxIncrease": "25%"},
                "confidence": 0.99,
                "maxAnalysisTime": f"{2 * TICKS}m",
            },
        }
    )


def _series(ticks: Sequence[TickObservation], side: str) -> tuple[list[float], list[float]]:
    errors, p99 = [], []
    for tick in ticks:
        observed: Side = getattr(tick, side)
        if observed.requests == 0 or observed.latency is None:
            continue
        errors.append(observed.errors / observed.requests)
        p99.append(observed.latency.interpolated_quantile(0.99) or 0.0)
    return errors, p99


def kayenta_score(world: World) -> CustomMetric:
    """Kayenta's classifier, as its NetflixACAJudge does it: per metric a Mann-Whitney U
    test of the canary's 10-second points against the baseline's over the last 5 minutes,
    High when significant and beyond the tolerance; the score is the share not High."""

    def score(metric: CanaryMetric, ticks: Sequence[TickObservation]) -> float | None:
        points = [point for tick in world.points[-5:] for point in tick]
        return _score(points)

    return score


def _score(window: list[TickObservation]) -> float:
    from scipy.stats import mannwhitneyu

    canary_errors, canary_p99 = _series(window, "canary")
    primary_errors, primary_p99 = _series(window, "primary")
    if min(len(canary_errors), len(primary_errors)) < 3:
        return 100.0
    high = 0
    pairs = ((canary_errors, primary_errors, 0.005, False), (canary_p99, primary_p99, 0.10, True))
    for mine, theirs, tolerance, relative in pairs:
        result = mannwhitneyu(mine, theirs, alternative="two-sided")
        shift = statistics.median(mine) - statistics.median(theirs)
        limit = tolerance * statistics.median(theirs) if relative else tolerance
        if result.pvalue < 0.02 and shift > limit:
            high += 1
    return 100.0 * (2 - high) / 2


JUDGES: dict[str, tuple[Callable[[World], Canary], Callable[[World], CustomMetric] | None]] = {
    "flagger": (flagger, None),
    "kayenta": (kayenta, kayenta_score),
    "judge": (judge, None),
    "judge-.5": (lambda world: judge(world, errors_margin=0.5), None),
}
"""judge-.5: the same judge with Kayenta's error tolerance (+0.5 pt) instead of +1 pt, to
show what the margin costs and buys; the corpus is the same."""


# Running and scoring ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    release: Release
    judge: str
    verdict: str
    tick: int | None
    failed_served: int
    """The canary's 5xx answers until the verdict."""
    failed_after: int
    """Expected 5xx answers of a wrongly promoted release from then to tick 30 at 100 %."""
    failed_first_tick: int = 0
    """The canary's 5xx in the first tick, the least any judge can let it serve."""


async def judge_release(release: Release, name: str) -> Outcome:
    world = World(release)
    build, custom = JUDGES[name]
    metric = None if custom is None else custom(world)
    result = await replay(build(world), world, custom=metric, max_ticks=200)
    after = 0
    if result.verdict == "promoted" and result.tick is not None:
        rate = world.base_errors + release.extra_errors
        after = round(rate * release.rate * INTERVAL_S * (TICKS - result.tick))
    return Outcome(
        release,
        name,
        result.verdict,
        result.tick,
        world.canary_errors,
        after,
        world.first_tick_errors,
    )


def corpus(seeds: int) -> list[Release]:
    releases = []
    for seed in range(seeds):
        for rate in RATES:
            for kind in KINDS:
                number = len(releases)
                releases.append(Release(number, rate, kind, seed=1000 * seed + number))
    return releases


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def summarize(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    rows = []
    for name in JUDGES:
        for rate in (*RATES, None):
            mine = [
                o for o in outcomes if o.judge == name and (rate is None or o.release.rate == rate)
            ]
            rows.append(_row(name, rate, mine))
    return rows


def _row(name: str, rate: float | None, mine: list[Outcome]) -> dict[str, Any]:
    good = [o for o in mine if o.release.good]
    bad = [o for o in mine if o.release.clearly_bad]
    marginal = [o for o in mine if o.release.kind in MARGINAL]
    correct = sum(o.verdict == "promoted" for o in good) + sum(
        o.verdict == "rolled-back" for o in bad
    )
    bad_ticks = [o.tick for o in bad if o.verdict == "rolled-back" and o.tick is not None]
    return {
        "judge": name,
        "rate": "all" if rate is None else rate,
        "releases": len(mine),
        "correct": correct / max(1, len(good) + len(bad)),
        "good_rolled_back": sum(o.verdict == "rolled-back" for o in good) / max(1, len(good)),
        "good_promoted_in_10": sum(o.verdict == "promoted" and (o.tick or 99) <= 10 for o in good)
        / max(1, len(good)),
        "good_undecided": sum(o.verdict == "undecided" for o in good) / max(1, len(good)),
        "bad_promoted": sum(o.verdict == "promoted" for o in bad) / max(1, len(bad)),
        "bad_rolled_back": sum(o.verdict == "rolled-back" for o in bad) / max(1, len(bad)),
        "bad_median_ticks": statistics.median(bad_ticks) if bad_ticks else None,
        "marginal_promoted": sum(o.verdict == "promoted" for o in marginal) / max(1, len(marginal)),
        "failed_served": sum(o.failed_served for o in bad),
        "failed_to_tick_30": sum(o.failed_served + o.failed_after for o in bad),
        "failed_floor": sum(o.failed_first_tick for o in bad),
        **{
            f"failed_served_{verdict}": sum(o.failed_served for o in bad if o.verdict == verdict)
            for verdict in ("rolled-back", "undecided", "promoted")
        },
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'judge':9} {'req/s':>5} {'correct':>8} {'good rb':>8} {'good ≤10':>8} {'bad prom':>8} "
        f"{'bad rb':>8} {'bad ticks':>9} {'marg prom':>9} {'5xx served':>10} {'5xx to t30':>10} "
        f"{'floor':>6}"
    )
    print(head)
    for row in rows:
        ticks = row["bad_median_ticks"]
        print(
            f"{row['judge']:9} {row['rate']!s:>5} {100 * row['correct']:7.1f}% "
            f"{100 * row['good_rolled_back']:7.1f}% {100 * row['good_promoted_in_10']:7.1f}% "
            f"{100 * row['bad_promoted']:7.1f}% {100 * row['bad_rolled_back']:7.1f}% "
            f"{'-' if ticks is None else f'{ticks:g}':>9} {100 * row['marginal_promoted']:8.1f}% "
            f"{row['failed_served']:>10} {row['failed_to_tick_30']:>10} {row['failed_floor']:>6}"
        )


def print_where(rows: list[dict[str, Any]]) -> None:
    """Where the 5xx of clearly bad canaries are served: in releases rolled back, held to
    the end of the corpus's 30 ticks, or promoted (before the promotion; "to t30" adds
    what they serve after it)."""
    print()
    print(f"{'judge':9} {'req/s':>5} {'5xx: rolled back':>16} {'held':>6} {'promoted':>9}")
    for row in rows:
        print(
            f"{row['judge']:9} {row['rate']!s:>5} {row['failed_served_rolled-back']:>16} "
            f"{row['failed_served_undecided']:>6} {row['failed_served_promoted']:>9}"
        )


def least_valid(releases: list[Release], margin: float, confidence: float = 0.99) -> float:
    """The 5xx that clearly bad canaries serve, on average, before the earliest rollback
    that any judge with this errors margin and confidence could make, even knowing every
    rate: Wald's lower bound on the expected number of canary requests a sequential test
    needs to reject "the canary is `margin` worse" (type I error 1 - confidence, every
    side's other checks aside) with 95 % power,

        E[N] >= ((1 - b) log((1 - b) / a) + b log(b / (1 - a))) / KL(p_c || p_0),

    (Wald, "Sequential Analysis", 1947; the SPRT attains it), with p_c the canary's rate,
    p_0 the primary's plus the margin, times p_c (Wald's identity), at the first step's
    20 % and the release's mean traffic, at least one tick, at most 30. Slower releases
    count their first tick only. An expectation from the releases' base rates (drift,
    bursts and each side's fluctuation left out), not a count from the simulation."""
    a, b = 1 - confidence, 0.05
    information = (1 - b) * math.log((1 - b) / a) + b * math.log(b / (1 - a))
    total = 0.0
    for release in releases:
        if not release.clearly_bad:
            continue
        base = World(release).base_errors
        rate = base + release.extra_errors
        per_tick = rate * 0.2 * release.rate * INTERVAL_S
        ticks = 1.0
        if release.extra_errors > margin:
            null = base + margin
            divergence = rate * math.log(rate / null) + (1 - rate) * math.log(
                (1 - rate) / (1 - null)
            )
            requests = information / divergence
            ticks = min(TICKS, max(1.0, requests / (0.2 * release.rate * INTERVAL_S)))
        total += per_tick * ticks
    return total


def print_least(seeds: int) -> None:
    """Wald's bound (`least_valid`) per traffic level, at the two margins the judges use."""
    releases = corpus(seeds)
    print()
    print(f"{'req/s':>5} {'least valid, +1 pt':>18} {'least valid, +0.5 pt':>20}")
    for rate in (*RATES, None):
        mine = [r for r in releases if rate is None or r.rate == rate]
        print(
            f"{'all' if rate is None else rate!s:>5} {least_valid(mine, 0.01):>18.0f} "
            f"{least_valid(mine, 0.005):>20.0f}"
        )


async def run(seeds: int) -> list[Outcome]:
    outcomes = []
    for release in corpus(seeds):
        for name in JUDGES:
            outcomes.append(await judge_release(release, name))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="releases per rate and kind")
    parser.add_argument("--json", help="also write every outcome and the table here")
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = asyncio.run(run(args.seeds))
    rows = summarize(outcomes)
    print(f"{len(outcomes) // len(JUDGES)} releases, {time.perf_counter() - started:.0f} s")
    print_table(rows)
    print_where(rows)
    print_least(args.seeds)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"rows": rows}, file, indent=2)


if __name__ == "__main__":
    main()
