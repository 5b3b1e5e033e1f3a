"""The judge on its own: verdicts from counts, honest buckets, and its error rates.

The A/A tests simulate good releases (canary identical to the primary) with drift, a
shared incident and the canary's share stepping, and count false rollbacks over many
ticks: an anytime-valid test keeps them under 1 - confidence however long it looks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from coalmine.api.judge import JudgeSpec, Verdict
from coalmine.errors import CoalmineError
from coalmine.judge import (
    Histogram,
    Side,
    TickObservation,
    binomial_difference,
    half_width,
    judge_tick,
    parse_tick,
)
from coalmine.judge.latency import resolved_threshold
from coalmine.judge.sequence import one_sided_width

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOUNDS = tuple(round(5 * 1.1**k, 6) for k in range(60))
SPEC = JudgeSpec.model_validate(
    {
        "errors": {"maxIncrease": 1},
        "latency": {"quantile": 0.9, "maxIncrease": "25%"},
        "confidence": 0.99,
        "maxAnalysisTime": "1h",
    }
)


def histogram(rng: np.random.Generator, n: int, median_ms: float) -> Histogram:
    values = rng.lognormal(np.log(median_ms), 0.5, n)
    counts = np.bincount(np.searchsorted(BOUNDS, values), minlength=len(BOUNDS) + 1)
    return Histogram(BOUNDS, tuple(int(c) for c in counts))


def tick(
    rng: np.random.Generator,
    index: int,
    rps: float,
    *,
    extra_errors: float = 0.0,
    slower: float = 1.0,
    wander: list[float] | None = None,
) -> TickObservation:
    """One minute: the share steps 20/40/60 %, errors and latency drift for both sides,
    and ticks 4 and 5 are an incident that hits both sides. With `wander`, each side also
    has its own autocorrelated fluctuation (5 % on latency, 30 % on errors)."""
    share = (0.2, 0.4, 0.6)[min(index // 3, 2)]
    incident = index in (4, 5)
    error_rate = 0.002 * (1 + (index % 50) / 10) + (0.05 if incident else 0.0)
    median = 40 * (1 + (index % 50) / 20) * (3 if incident else 1)
    slow, errors = [1.0, 1.0], [1.0, 1.0]
    if wander is not None:
        for i in range(4):
            wander[i] = 0.9 * wander[i] + rng.normal(0, (0.05, 0.05, 0.3, 0.3)[i] * 0.44)
        slow = [float(np.exp(w)) for w in wander[:2]]
        errors = [float(np.exp(w)) for w in wander[2:]]
    total = int(rps * 60)
    canary_n = int(rng.binomial(total, share))
    primary_n = total - canary_n
    canary_rate = min(1.0, error_rate * errors[1] + extra_errors)
    return TickObservation(
        primary=Side(
            primary_n,
            int(rng.binomial(primary_n, min(1.0, error_rate * errors[0]))),
            histogram(rng, primary_n, median * slow[0]),
        ),
        canary=Side(
            canary_n,
            int(rng.binomial(canary_n, canary_rate)),
            histogram(rng, canary_n, median * slower * slow[1]),
        ),
    )


def run(
    seed: int, ticks: int, rps: float, *, wander: bool = False, **change: float
) -> tuple[Verdict, int]:
    rng = np.random.default_rng(seed)
    state = [0.0, 0.0, 0.0, 0.0] if wander else None
    status = None
    for index in range(ticks):
        observed = tick(rng, index, rps, wander=state, **change)
        outcome = judge_tick(SPEC, status, observed, elapsed_seconds=0, now=NOW)
        status = outcome.status
        if outcome.verdict == Verdict.ROLLBACK:
            return outcome.verdict, index + 1
    return Verdict.HOLD, ticks


@pytest.mark.parametrize("rps", [2, 10, 20])
def test_a_a_false_rollbacks_stay_under_one_minus_confidence_over_many_ticks(rps: float) -> None:
    """Good releases, looked at for 40 ticks each, through drift and a shared incident."""
    runs = 60
    rolled_back = sum(run(seed, 40, rps)[0] == Verdict.ROLLBACK for seed in range(runs))
    # 1 - confidence = 1 %: even one false rollback in 60 runs would be suspicious; zero
    # is what the test's conservatism gives. Allow one to keep this a statistical test.
    assert rolled_back <= 1


def advanced(seed: int, ticks: int, rps: float, **change: float) -> bool:
    """Did any tick say advance?"""
    rng = np.random.default_rng(seed)
    status = None
    for index in range(ticks):
        observed = tick(rng, index, rps, **change)
        outcome = judge_tick(SPEC, status, observed, elapsed_seconds=0, now=NOW)
        status = outcome.status
        if outcome.verdict == Verdict.ADVANCE:
            return True
    return False


def test_a_release_at_the_errors_margin_rarely_advances_though_each_check_uses_all_of_alpha() -> (
    None
):
    """The advance bounds are not split between the checks (an intersection-union test):
    a release exactly 1 pt worse, as fast as the primary, advances only if the errors
    check errs, at most 1 - confidence of the time however long it is watched."""
    runs = 60
    assert sum(advanced(seed, 40, 20, extra_errors=0.01) for seed in range(runs)) <= 1
    assert advanced(0, 40, 20)  # the same traffic without the extra errors does advance


@pytest.mark.parametrize("rps", [2, 10, 50])
def test_a_release_at_the_errors_margin_advances_or_rolls_back_at_most_one_time_in_a_hundred(
    rps: float,
) -> None:
    """Both tests' validity where counts are small: 300 releases exactly 1 pt worse,
    errors judged alone, 40 ticks each, through drift and the shared incident of ticks 5
    and 6. Before the incident handling (`judge/errors.py`), 9, 13 and 5 of 300 advanced
    at 2, 10 and 50 req/s; now 1, 1 and 2 (1 - confidence is 3 of 300). Rolled back: 0,
    0 and 0 while the rollback test's variance floor counted the canary's excess errors
    as the reference's; 1, 1 and 0 with the restricted estimate (`shares.restricted_rate`)
    that rolls clearly bad releases back sooner."""
    spec = JudgeSpec.model_validate({"errors": {"maxIncrease": 1}, "confidence": 0.99})
    advanced = rolled_back = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        status = None
        for index in range(40):
            observed = tick(rng, index, rps, extra_errors=0.01)
            outcome = judge_tick(spec, status, observed, elapsed_seconds=0, now=NOW)
            status = outcome.status
            if outcome.verdict == Verdict.ADVANCE:
                advanced += 1
                break
            if outcome.verdict == Verdict.ROLLBACK:
                rolled_back += 1
                break
    assert advanced <= 3
    assert rolled_back <= 3


def test_a_a_stays_quiet_for_two_hundred_ticks_with_each_sides_own_fluctuations() -> None:
    """However many ticks: 25 good releases watched for 200 ticks each at 50 req/s, each
    side with its own autocorrelated noise that no binomial model expects."""
    rolled_back = sum(run(seed, 200, 50, wander=True)[0] == Verdict.ROLLBACK for seed in range(25))
    assert rolled_back == 0


def test_a_clearly_bad_release_is_rolled_back_the_tick_the_evidence_is_there() -> None:
    verdict, ticks = run(1, 10, 50, extra_errors=0.10)
    assert verdict == Verdict.ROLLBACK
    assert ticks == 1


def test_a_release_two_points_worse_at_ten_requests_a_second_is_rolled_back_in_half_the_time() -> (
    None
):
    """The rollback test's variance at the margin takes the reference's rate from the
    restricted maximum-likelihood estimate, with no floor from both sides' pooled rate
    (which counted the canary's own excess errors): 20 of 20 such releases rolled back
    within 30 ticks, by tick 16 at the median (before: 16 of 20, median 23.5)."""
    results = [run(seed, 30, 10, extra_errors=0.02) for seed in range(20)]
    assert all(verdict == Verdict.ROLLBACK for verdict, _ in results)
    assert sorted(ticks for _, ticks in results)[10] <= 17


def test_a_three_times_slower_release_is_rolled_back_within_three_ticks() -> None:
    verdict, ticks = run(2, 10, 20, slower=3)
    assert verdict == Verdict.ROLLBACK
    assert ticks <= 3


def test_rollback_happens_in_the_same_tick_the_interval_leaves_the_margin() -> None:
    """Feed ticks one by one and check that the first tick whose interval lies above the
    margin is the tick whose verdict is rollback."""
    rng = np.random.default_rng(3)
    status = None
    for index in range(20):
        outcome = judge_tick(
            SPEC, status, tick(rng, index, 5, extra_errors=0.05), elapsed_seconds=0, now=NOW
        )
        status = outcome.status
        errors = status.checks[0]
        assert errors.lower is not None
        if errors.lower > 0.01:
            assert outcome.verdict == Verdict.ROLLBACK
            return
        assert outcome.verdict != Verdict.ROLLBACK
    pytest.fail("never enough evidence")


def test_a_good_release_advances_once_the_evidence_rules_out_the_margin() -> None:
    rng = np.random.default_rng(4)
    status = None
    for index in range(10):
        outcome = judge_tick(SPEC, status, tick(rng, index, 200), elapsed_seconds=0, now=NOW)
        status = outcome.status
        if outcome.verdict == Verdict.ADVANCE:
            assert all(check.verdict == Verdict.ADVANCE for check in status.checks)
            return
        assert outcome.verdict == Verdict.HOLD
    pytest.fail("a good release at 200 req/s never advanced")


def test_at_low_traffic_it_holds_and_then_says_why_it_rolls_back() -> None:
    rng = np.random.default_rng(5)
    observed = tick(rng, 0, 0.5)
    held = judge_tick(SPEC, None, observed, elapsed_seconds=60, now=NOW)
    assert held.verdict == Verdict.HOLD
    late = judge_tick(SPEC, held.status, observed, elapsed_seconds=3600, now=NOW)
    assert late.verdict == Verdict.ROLLBACK and late.timed_out
    assert "not enough evidence" in late.reason and "maxAnalysisTime 1h" in late.reason


def test_a_disturbance_on_both_sides_is_not_the_canarys_fault() -> None:
    """Both sides at 30 % errors and 5x slower in one tick: no rollback."""
    hit = Side(1000, 300, Histogram(BOUNDS, tuple([0] * 40 + [1000] + [0] * 20)))
    hit_canary = Side(250, 75, Histogram(BOUNDS, tuple([0] * 40 + [250] + [0] * 20)))
    outcome = judge_tick(SPEC, None, TickObservation(hit, hit_canary), elapsed_seconds=0, now=NOW)
    assert outcome.verdict != Verdict.ROLLBACK


def test_the_message_gives_rates_estimate_interval_and_verdict() -> None:
    observed = TickObservation(Side(10000, 40), Side(5000, 120))
    spec = JudgeSpec.model_validate({"errors": {"maxIncrease": 0.5}})
    outcome = judge_tick(spec, None, observed, elapsed_seconds=0, now=NOW)
    message = outcome.status.checks[0].message
    assert message.startswith("errors: canary 2.40 % vs primary 0.40 % (+2 pt, 99 % interval +")
    assert message.endswith("> 0.5 pt: rollback")


def test_the_variance_never_claims_certainty_from_a_tick_without_errors() -> None:
    difference, variance = binomial_difference(0, 5, 0, 20)
    assert difference == 0 and variance > 0.005


def test_buckets_that_cannot_resolve_the_margin_widen_it_and_say_so() -> None:
    istio = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0)
    assert resolved_threshold(istio, 4, 0.10) == 5  # 50 ms -> 100 ms: +100 %
    assert resolved_threshold(BOUNDS, 10, 0.10) == 11  # a 10 % ladder resolves 10 %
    assert resolved_threshold(istio, 6, 0.10) is None
    primary = Side(1000, 0, Histogram(istio, (0, 0, 0, 0, 990, 10, 0, 0)))
    canary = Side(1000, 0, Histogram(istio, (0, 0, 0, 0, 990, 10, 0, 0)))
    spec = JudgeSpec.model_validate({"latency": {"quantile": 0.99, "maxIncrease": "10%"}})
    outcome = judge_tick(spec, None, TickObservation(primary, canary), elapsed_seconds=0, now=NOW)
    assert "buckets resolve only +100 %" in outcome.status.checks[0].message


def test_the_interval_narrows_with_evidence_but_pays_for_looking_often() -> None:
    early, late = half_width(1e3, 0.01, 0.03), half_width(1e6, 0.01, 0.03)
    assert late < early
    assert half_width(1e4, 0.01, 0.03) > 2.576 / 100  # wider than a fixed-sample interval


def test_a_one_sided_bound_is_tighter_than_the_two_sided_but_still_pays_for_looking() -> None:
    for precision in (1e2, 1e4, 1e6):
        one_sided = one_sided_width(precision, 0.01, 0.03)
        assert one_sided < half_width(precision, 0.01, 0.03)
        assert one_sided > 2.326 / precision**0.5  # a fixed-sample one-sided bound


def test_parse_tick_reads_the_issue_format_and_names_bad_fields() -> None:
    line = {
        "primary": {
            "requests": 1190,
            "errors": 3,
            "latency_ms": {"le": [5, 10, 25, 50], "counts": [100, 500, 500, 80, 10]},
        },
        "canary": {"requests": 300, "errors": 1},
    }
    parsed = parse_tick(line, "line 1")
    assert parsed.primary.latency is not None and parsed.primary.latency.above(2) == 90
    with pytest.raises(CoalmineError, match=r"line 2: canary.errors: 5 is more than requests"):
        parse_tick({**line, "canary": {"requests": 3, "errors": 5}}, "line 2")
    bad = {"le": [5, 10], "counts": [1, 2]}
    with pytest.raises(CoalmineError, match=r"primary.latency_ms: needs one count more"):
        parse_tick({**line, "primary": {"requests": 3, "latency_ms": bad}}, "line 3")


def test_the_spec_needs_something_to_judge() -> None:
    with pytest.raises(ValueError, match="set errors"):
        JudgeSpec.model_validate({})
    with pytest.raises(ValueError, match='percentage such as "10%"'):
        JudgeSpec.model_validate({"latency": {"maxIncrease": "0.1"}})


def incident_ticks(seed: int, ticks: int, *, extra_errors: float = 0.0) -> list[TickObservation]:
    """10 req/s, the canary at 20 %, 0.3 % errors; ticks 2 and 3 an incident at +5 points
    on both sides, each side's rate multiplied by its own factor (1.3 and 0.7 here), as
    in benchmarks/judgement.py: within the incident the sides truly differ by points."""
    rng = np.random.default_rng(seed)
    observed = []
    for index in range(ticks):
        incident = index in (2, 3)
        rate = 0.003 + (0.05 if incident else 0.0)
        canary_rate = rate * (1.3 if incident else 1.0) + extra_errors
        primary_rate = rate * (0.7 if incident else 1.0)
        canary_n, primary_n = int(rng.poisson(120)), int(rng.poisson(480))
        observed.append(
            TickObservation(
                primary=Side(primary_n, int(rng.binomial(primary_n, primary_rate))),
                canary=Side(canary_n, int(rng.binomial(canary_n, canary_rate))),
            )
        )
    return observed


ERRORS_ONLY = JudgeSpec.model_validate({"errors": {"maxIncrease": 1}, "confidence": 0.99})


def first_verdict(observed: list[TickObservation]) -> tuple[Verdict, int] | None:
    """The first tick that advanced or rolled back, or None."""
    status = None
    for index, one in enumerate(observed):
        outcome = judge_tick(ERRORS_ONLY, status, one, elapsed_seconds=0, now=NOW)
        status = outcome.status
        if outcome.verdict != Verdict.HOLD:
            return outcome.verdict, index + 1
    return None


def test_a_shared_incident_does_not_hold_a_good_release_long_after_it_ends() -> None:
    """The incident's ticks weigh little (the rate in the tick, less three standard
    errors, is above the recent rates) and are forgotten by the ticks after it (recent
    rates decay, incident errors are capped): a good release advances a few ticks after
    the incident instead of waiting for its +3 pt ticks to wash out. Before, 7 of these
    20 had not advanced after 30 ticks, and the others took 12 to 29 (median 25); now
    all advance, the median by tick 13. None is rolled back."""
    verdicts = [first_verdict(incident_ticks(seed, 30)) for seed in range(20)]
    assert all(v is not None and v[0] == Verdict.ADVANCE for v in verdicts)
    ticks = sorted(v[1] for v in verdicts if v is not None)
    assert ticks[len(ticks) // 2] <= 15


def test_a_release_at_the_margin_with_a_shared_incident_rarely_advances() -> None:
    """The incident's handling keeps the advance test valid: 1 pt worse, watched 40 ticks.
    Such a release may be rolled back (it is at the margin; 1 - confidence of the time):
    here one of 60 is, at tick 2, before the incident (9 errors in its 258 canary
    requests against 1 in 958); over 200 runs 7, 3 of them in the incident's ticks, in
    which the canary (hit 1.3 times, the primary 0.7 times) is truly 4 points worse."""
    verdicts = [first_verdict(incident_ticks(seed, 40, extra_errors=0.01)) for seed in range(60)]
    assert sum(v is not None and v[0] == Verdict.ADVANCE for v in verdicts) <= 1
    assert sum(v is not None and v[0] == Verdict.ROLLBACK for v in verdicts) <= 1


def test_a_lasting_change_of_both_sides_rates_is_learnt_not_left_out() -> None:
    """Unusual ticks are left out of the recent rates while they look like an incident;
    three in a row are a lasting change, and the recent rates follow it."""
    rng = np.random.default_rng(7)
    status = None
    streaks = []
    for index in range(12):
        rate = 0.003 if index < 4 else 0.05
        primary, canary = int(rng.poisson(2000)), int(rng.poisson(500))
        observed = TickObservation(
            primary=Side(primary, int(rng.binomial(primary, rate))),
            canary=Side(canary, int(rng.binomial(canary, rate))),
        )
        outcome = judge_tick(ERRORS_ONLY, status, observed, elapsed_seconds=0, now=NOW)
        status = outcome.status
        assert status.errors is not None
        streaks.append(status.errors.unusual_ticks)
    assert streaks[:4] == [0, 0, 0, 0]
    assert streaks[4:6] == [1, 2]  # an incident so far: left out
    assert streaks[-1] == 0  # learnt: no longer unusual
    assert status is not None and status.errors is not None
    recent = status.errors.recent_primary_events / status.errors.recent_primary_total
    assert 0.04 < recent < 0.06
