"""Gate statistics against values computed independently: Newcombe (1998) Table II for the
difference of proportions, scipy (binomtest(...).proportion_ci(method="wilson"), binom.cdf,
t.ppf, t.interval) for the rest, and small cases worked by hand in the comments."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.stats.gate_stats import (
    difference_of_ratios,
    more_hits_p_value,
    mover_difference,
    quantile_delta,
    quantile_interval,
    quantile_ranks,
    quantile_ratio,
    ratio_estimate,
    ratio_interval,
    ratio_of_ratios,
    t_value,
    wilson,
    z_value,
)
from rollout.stats.histogram import GAMMA, LogHistogram, representative


def test_z_values() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)


@pytest.mark.parametrize(
    ("hits", "trials", "confidence", "low", "high"),
    [
        (81, 263, 0.95, 0.255289, 0.366210),  # Newcombe 1998 (single proportion), scipy
        (15, 148, 0.95, 0.062386, 0.160487),
        (0, 20, 0.95, 0.0, 0.161125),
        (1, 29, 0.95, 0.006113, 0.171755),
        (29, 29, 0.95, 0.883030, 1.0),
        (5, 1000, 0.99, 0.001672, 0.014853),
    ],
)
def test_wilson_matches_published_values(
    hits: int, trials: int, confidence: float, low: float, high: float
) -> None:
    got = wilson(hits, trials, confidence)
    assert got.value == hits / trials
    assert (got.low, got.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))


@pytest.mark.parametrize(("hits", "trials"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(hits: int, trials: int) -> None:
    with pytest.raises(ValueError):
        wilson(hits, trials, 0.95)


@pytest.mark.parametrize(
    ("cand", "base", "p"),
    [  # scipy.stats.fisher_exact(..., alternative="greater"), computed once
        ((13, 500), (495, 49500), 0.0020520760893),
        ((5, 500), (495, 49500), 0.56126669992),
        ((3, 10), (1, 10), 0.29102167183),
        ((7, 300), (3, 300), 0.16980697373),
        ((500, 500), (0, 10), 3.3313598200e-21),
        ((0, 10), (0, 10), 1.0),
    ],
)
def test_fishers_exact_test_matches_known_values(
    cand: tuple[int, int], base: tuple[int, int], p: float
) -> None:
    assert more_hits_p_value(cand, base) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(
    ("cand", "base"), [((3, 2), (1, 10)), ((-1, 10), (1, 10)), ((1, 0), (0, 1))]
)
def test_fishers_exact_test_refuses_impossible_counts(
    cand: tuple[int, int], base: tuple[int, int]
) -> None:
    with pytest.raises(ValueError, match="hits <= trials"):
        more_hits_p_value(cand, base)


@pytest.mark.parametrize(
    ("cand", "base", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
        ((0, 10), (0, 10), -0.2775, 0.2775),
        ((10, 10), (0, 20), 0.6791, 1.0000),
        ((10, 10), (0, 10), 0.6075, 1.0000),
    ],
)
def test_newcombe_difference_matches_table_ii(
    cand: tuple[int, int], base: tuple[int, int], low: float, high: float
) -> None:
    got = mover_difference(cand, base, 0.95)
    assert got.value == pytest.approx(cand[0] / cand[1] - base[0] / base[1])
    assert (round(got.low, 4), round(got.high, 4)) == (low, high)


def test_weighted_difference_for_ratio_bounds() -> None:
    # 20/1000 - 2 x 10/1000 = 0; ends from scipy's Wilson limits, combined by hand:
    # -sqrt((0.02 - 0.012989)^2 + 4 (0.018275 - 0.01)^2), +sqrt((0.030768 - 0.02)^2 + 4 ...)
    got = mover_difference((20, 1000), (10, 1000), 0.95, ratio=2.0)
    assert got.value == 0.0
    assert got.low == pytest.approx(-0.0180393, abs=1e-6)
    assert got.high == pytest.approx(0.0140507, abs=1e-6)


@pytest.mark.parametrize(
    ("n", "q", "confidence", "ranks"),
    [  # scipy.stats.binom.cdf; (40, 61) is the textbook 95% median interval for n = 100
        (100, 0.5, 0.95, (40, 61)),
        (100, 0.5, 0.975, (39, 62)),
        (1000, 0.95, 0.99, (931, 968)),
        (500, 0.95, 0.995, (460, 489)),
        (59, 0.95, 0.95, (52, None)),  # too few values to bound p95 from above
        (20, 0.99, 0.99, (18, None)),
        (5, 0.5, 0.95, (None, None)),  # 1/32 > 2.5% on both sides
    ],
)
def test_quantile_ranks(
    n: int, q: float, confidence: float, ranks: tuple[int | None, int | None]
) -> None:
    assert quantile_ranks(n, q, confidence) == ranks


def _exact_ranks(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """The definition, summed with exact binomial coefficients (independent of the lgamma
    window the implementation uses)."""
    tail = (1 - confidence) / 2
    cdf, total = [], 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * q**k * (1 - q) ** (n - k)
        cdf.append(total)
    below = [j for j in range(n + 1) if cdf[j] <= tail]
    high = next(j for j in range(n + 1) if cdf[j] >= 1 - tail or j == n)
    return (below[-1] + 1 if below else None, high + 1 if high + 1 <= n else None)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
    confidence=st.sampled_from([0.9, 0.95, 0.99, 0.995]),
)
def test_quantile_ranks_match_the_exact_binomial(n: int, q: float, confidence: float) -> None:
    assert quantile_ranks(n, q, confidence) == _exact_ranks(n, q, confidence)


def test_order_statistic_interval_covers_the_true_p95_at_least_as_often_as_promised() -> None:
    rng = random.Random(7)
    n, trials, low_rank, high_rank = 300, 2000, *quantile_ranks(300, 0.95, 0.95)
    assert low_rank is not None and high_rank is not None
    true_p95 = -math.log(0.05)  # exponential(1)
    covered = 0
    for _ in range(trials):
        xs = sorted(rng.expovariate(1.0) for _ in range(n))
        covered += xs[low_rank - 1] <= true_p95 <= xs[high_rank - 1]
    # >= 95% by construction; 3 standard errors of slack for 2000 trials
    assert covered / trials >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)


def _hist(values: list[float]) -> LogHistogram:
    h = LogHistogram()
    for v in values:
        h.add(v)
    return h


def test_quantile_interval_reads_the_order_statistics_within_two_percent() -> None:
    got = quantile_interval(_hist([float(i) for i in range(1, 101)]), 0.5, 0.95)
    assert got.value == pytest.approx(50, rel=0.02)
    assert got.low == pytest.approx(40, rel=0.02) and got.high == pytest.approx(61, rel=0.02)


def test_quantile_interval_is_open_when_too_few_values() -> None:
    got = quantile_interval(_hist([1.0] * 5), 0.5, 0.95)
    assert (got.low, got.high) == (0.0, math.inf)


def _one_per_bucket(first: int, count: int = 100) -> LogHistogram:
    """One value at each of `count` consecutive bucket representatives: the value of rank k is
    representative(first + k - 1) exactly, and neighbours are GAMMA apart."""
    return _hist([representative(first + i) for i in range(count)])


# Medians of 100 values at 95%: ranks (40, 61) around rank 50, i.e. 10 buckets below and 11
# above. MOVER on the log scale: low = ratio / GAMMA^hypot(10, 11), high = ratio ·
# GAMMA^hypot(11, 10) (the candidate's reach below with the baseline's above, and vice versa).
SPREAD = math.hypot(10, 11)  # 14.866


@pytest.mark.parametrize(
    ("shift", "ratio", "low", "high"),
    [
        (0, 1.0, GAMMA**-SPREAD, GAMMA**SPREAD),  # 0.55172, 1.81253
        (5, GAMMA**5, GAMMA ** (5 - SPREAD), GAMMA ** (5 + SPREAD)),  # a slower candidate
        (-20, GAMMA**-20, GAMMA ** (-20 - SPREAD), GAMMA ** (-20 + SPREAD)),
    ],
)
def test_quantile_ratio_combines_both_arms_by_mover_on_the_log_scale(
    shift: int, ratio: float, low: float, high: float
) -> None:
    got = quantile_ratio(_one_per_bucket(shift), _one_per_bucket(0), 0.5, 0.95)
    assert got.value == pytest.approx(ratio, rel=1e-12)
    assert got.low == pytest.approx(low, rel=1e-12)
    assert got.high == pytest.approx(high, rel=1e-12)


def test_quantile_delta_combines_both_arms_by_mover() -> None:
    same = _one_per_bucket(0)
    value, low, high = representative(49), representative(39), representative(60)
    got = quantile_delta(same, same, 0.5, 0.95)
    assert got.value == 0.0
    assert got.low == pytest.approx(-math.hypot(value - low, high - value), rel=1e-12)
    assert got.high == pytest.approx(math.hypot(high - value, value - low), rel=1e-12)
    assert got.high == pytest.approx(4.479334, abs=1e-6)  # hypot(2.294544, 3.847012)


def test_quantile_ratio_is_open_when_a_quantile_is_zero() -> None:
    zeros = _hist([0.0] * 100)
    got = quantile_ratio(_one_per_bucket(0), zeros, 0.5, 0.95)
    assert (got.low, got.high) == (0.0, math.inf)


def test_quantile_ratio_is_open_where_an_arm_cannot_be_bounded() -> None:
    few = _hist([1.0, 2.0, 3.0, 4.0, 5.0])  # 5 values bound no median at 95%
    got = quantile_ratio(few, _one_per_bucket(0), 0.5, 0.95)
    assert (got.low, got.high) == (0.0, math.inf)


@pytest.mark.parametrize(("n_cand", "n_base"), [(300, 3000), (500, 500)])
def test_quantile_ratio_covers_the_true_p95_ratio_at_least_as_often_as_promised(
    n_cand: int, n_base: int
) -> None:
    # A candidate 1.3x slower at every quantile; the 95% interval must hold 1.3 in >= ~95% of
    # samples (measured: 0.9525 and 0.9775 of 400; 0.93 allows for 400 draws).
    rng, trials, covered = random.Random(11), 400, 0
    for _ in range(trials):
        cand = _hist([1.3 * rng.lognormvariate(0, 0.5) for _ in range(n_cand)])
        base = _hist([rng.lognormvariate(0, 0.5) for _ in range(n_base)])
        got = quantile_ratio(cand, base, 0.95, 0.95)
        covered += got.low <= 1.3 <= got.high
    assert covered / trials >= 0.93


def test_quantile_ratio_of_a_slower_candidate_excludes_one() -> None:
    rng = random.Random(3)
    base = _hist([rng.lognormvariate(0, 0.5) for _ in range(5000)])
    cand = _hist([1.5 * rng.lognormvariate(0, 0.5) for _ in range(2000)])
    got = quantile_ratio(cand, base, 0.95, 0.99)
    assert 1.0 < got.low < 1.5 < got.high


@pytest.mark.parametrize(
    ("confidence", "df", "expected"),
    [  # scipy.stats.t.ppf(1 - alpha/2, df)
        (0.95, 5, 2.570582),
        (0.99, 5, 4.032143),
        (0.95, 10, 2.228139),
        (0.99, 10, 3.169273),
        (0.95, 30, 2.042272),
        (0.99, 100, 2.625891),
    ],
)
def test_t_value_is_within_a_tenth_of_a_percent(
    confidence: float, df: int, expected: float
) -> None:
    assert t_value(confidence, df) == pytest.approx(expected, rel=1e-3)


def test_ratio_estimate_by_hand() -> None:
    # R = 4.0 / 40 = 0.1; residuals 0, 0.2, -0.2; V = 3/2 x 0.08 / 1600 = 7.5e-5
    est = ratio_estimate([(10, 1.0), (20, 2.2), (10, 0.8)])
    assert est.value == pytest.approx(0.1)
    assert est.variance == pytest.approx(7.5e-5)
    assert est.batches == 3


@pytest.mark.parametrize("batches", [[], [(10, 1.0)], [(0, 0.0), (0, 0.0)]])
def test_ratio_estimate_needs_two_batches_with_calls(batches: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError):
        ratio_estimate(batches)


SIX = [(10, 1.0), (10, 1.2), (10, 0.8), (10, 1.1), (10, 0.9), (10, 1.0)]


def test_cost_interval_equals_the_t_interval_when_batches_are_equal() -> None:
    # Equal batch sizes: the ratio estimator is the mean of y/x and its interval the one-sample
    # t interval: scipy.stats.t.interval(0.95, 5, 0.1, sqrt(2e-4 / 6)) = (0.085159, 0.114841)
    got = ratio_interval(ratio_estimate(SIX), 0.95, scale=1000.0)
    assert got.value == pytest.approx(100.0)
    assert got.low == pytest.approx(85.159, rel=2e-4)
    assert got.high == pytest.approx(114.841, rel=2e-4)


def test_ratio_of_equal_cost_estimates_by_hand() -> None:
    # se(log) = sqrt(2 x 3.3333e-5 / 0.01) = 0.081650; half = 2.570582 x 0.081650 = 0.209890
    est = ratio_estimate(SIX)
    got = ratio_of_ratios(est, est, 0.95)
    assert got.value == pytest.approx(1.0)
    assert got.low == pytest.approx(math.exp(-0.209890), rel=1e-3)
    assert got.high == pytest.approx(math.exp(0.209890), rel=1e-3)


def test_difference_of_cost_estimates_by_hand() -> None:
    # cand x2 cost: R_c = 0.2, V_c = 4 x 3.3333e-5; sd = sqrt(5 x 3.3333e-5) = 0.0129099
    cand = ratio_estimate([(x, 2 * y) for x, y in SIX])
    got = difference_of_ratios(cand, ratio_estimate(SIX), 0.95, scale=1000.0)
    half = 2.570582 * 0.0129099 * 1000
    assert got.value == pytest.approx(100.0)
    assert (got.low, got.high) == (
        pytest.approx(100.0 - half, rel=1e-3),
        pytest.approx(100.0 + half, rel=1e-3),
    )


def test_ratio_of_ratios_needs_positive_estimates() -> None:
    zero = ratio_estimate([(10, 0.0), (10, 0.0)])
    with pytest.raises(ValueError):
        ratio_of_ratios(zero, ratio_estimate(SIX), 0.95)
