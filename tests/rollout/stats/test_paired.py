"""Paired statistics for proportions against values computed independently.

- McNemar: scipy.stats.binomtest(worse, worse + better, 0.5) (one-sided "greater" and two-sided)
  and statsmodels.stats.contingency_tables.mcnemar(table, exact=True) (two-sided): fixed values
  computed once (scipy 1.17.1, statsmodels 0.15.0), a grid checked live, and the exact binomial
  sum in integers.
- Newcombe's method 10 (Newcombe 1998, Statistics in Medicine 17:2635-2650): the paper's Table II
  figures could not be found in any stored reference, so the expected values come from a separate
  implementation written from the formulas (`_newcombe_reference` below: scipy's Wilson limits,
  not gate_stats.wilson, and the continuity-corrected phi as the R packages contingencytables
  (Newcombe_square_and_add_CI_paired_2x2) and biostatUZH (confIntPairedProportion) implement it).
  The tables include his example (e, f, g, h) = (36, 12, 2, 0) and the worked example of Altman
  et al., Statistics with Confidence (2000), Table 6.2, (14, 5, 0, 22), whose published figures
  were not found stored either.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

from rollout.stats.paired import mcnemar_two_sided_p, mcnemar_worse_p, paired_difference

# --- McNemar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worse", "better", "one_sided", "two_sided"),
    [  # binomtest(...).pvalue, "greater" and two-sided; two-sided also statsmodels mcnemar exact
        (12, 2, 0.0064697265625, 0.012939453125),
        (2, 12, 0.99908447265625, 0.012939453125),
        (5, 0, 0.03125, 0.0625),
        (0, 5, 1.0, 0.0625),
        (7, 7, 0.604736328125, 1.0),
        (1, 0, 0.5, 1.0),
        (0, 1, 1.0, 1.0),
        (3, 1, 0.3125, 0.625),
        (30, 15, 0.017848901777597348, 0.035697803555194696),
        (60, 40, 0.028443966820490444, 0.05688793364098089),
        (10, 30, 0.9996602258725034, 0.0022214337732293643),
        (400, 300, 8.92381572428122e-05, 0.0001784763144856244),
        (0, 0, 1.0, 1.0),  # no discordant pairs: nothing tells the arms apart
    ],
)
def test_mcnemar_matches_scipy_and_statsmodels(
    worse: int, better: int, one_sided: float, two_sided: float
) -> None:
    assert mcnemar_worse_p(worse, better) == pytest.approx(one_sided, rel=1e-9)
    assert mcnemar_two_sided_p(worse, better) == pytest.approx(two_sided, rel=1e-9)


def test_mcnemar_agrees_with_scipy_and_statsmodels_on_a_grid() -> None:
    for worse in range(0, 31, 3):
        for better in range(0, 31, 4):
            n = worse + better
            one = binomtest(worse, n, 0.5, alternative="greater").pvalue if n else 1.0
            two = mcnemar([[40, worse], [better, 60]], exact=True).pvalue
            assert mcnemar_worse_p(worse, better) == pytest.approx(one, rel=1e-9)
            assert mcnemar_two_sided_p(worse, better) == pytest.approx(two, rel=1e-9)


@pytest.mark.parametrize("n", [1, 2, 9, 40, 201, 1000])
def test_mcnemar_is_the_exact_binomial_tail(n: int) -> None:
    """Against the definition in exact integers: sum of C(n, j) for j >= k, over 2^n."""
    for worse in range(0, n + 1, max(1, n // 25)):
        exact = Fraction(sum(math.comb(n, j) for j in range(worse, n + 1)), 2**n)
        assert mcnemar_worse_p(worse, n - worse) == pytest.approx(float(exact), rel=1e-10)


@pytest.mark.parametrize(("worse", "better"), [(-1, 3), (3, -1)])
def test_mcnemar_refuses_negative_counts(worse: int, better: int) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_worse_p(worse, better)
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_two_sided_p(worse, better)


# --- Newcombe's paired interval ------------------------------------------------------------------


def _newcombe_reference(e: int, f: int, g: int, h: int, confidence: float) -> tuple[float, float]:
    """Method 10 from the paper's formulas, for p1 - p2 with p1 = (e+f)/n, p2 = (e+g)/n."""
    n = e + f + g + h
    p1, p2 = (e + f) / n, (e + g) / n
    l1, u1 = binomtest(e + f, n).proportion_ci(confidence, method="wilson")
    l2, u2 = binomtest(e + g, n).proportion_ci(confidence, method="wilson")
    a = (e + f) * (g + h) * (e + g) * (f + h)
    b = e * h - f * g
    c = b - n / 2 if b > n / 2 else (0.0 if b >= 0 else b)
    phi = c / math.sqrt(a) if a else 0.0
    dl = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    du = math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    return p1 - p2 - dl, p1 - p2 + du


# (e, f, g, h) in Newcombe's notation: e both arms have the event, f only the candidate, g only the
# baseline, h neither. Expected values: _newcombe_reference, computed once.
NEWCOMBE_TABLE = [
    ((36, 12, 2, 0), 0.95, 0.05693, 0.340428),  # Newcombe's example
    ((14, 5, 0, 22), 0.95, 0.011483, 0.226493),  # Altman et al. (2000) Table 6.2
    ((1, 1, 7, 12), 0.95, -0.50692, -0.025559),  # contingencytables' example (Bentur 2009)
    ((59, 6, 16, 80), 0.95, -0.118621, -0.004625),  # its other example (Cavo 2012)
    ((5, 5, 0, 0), 0.95, 0.117367, 0.763407),  # a margin empty: phi = 0
    ((0, 0, 0, 10), 0.95, -0.277533, 0.277533),  # no discordant pairs, no events
    ((10, 0, 0, 0), 0.95, -0.277533, 0.277533),  # no discordant pairs, all events
    ((180, 0, 0, 20), 0.95, -0.017931, 0.017931),  # no discordant pairs, correlated
    ((150, 3, 9, 38), 0.95, -0.066868, 0.005763),  # an eval set: candidate better, not shown
    ((150, 3, 9, 38), 0.99, -0.07968, 0.017892),
    ((0, 4, 0, 196), 0.90, 0.00271, 0.043803),  # 4 new failures in 200, none fixed
]


@pytest.mark.parametrize(("table", "confidence", "low", "high"), NEWCOMBE_TABLE)
def test_newcombe_paired_interval(
    table: tuple[int, int, int, int], confidence: float, low: float, high: float
) -> None:
    e, f, g, h = table
    got = paired_difference(
        both=e, only_candidate=f, only_baseline=g, neither=h, confidence=confidence
    )
    assert got.value == pytest.approx((f - g) / sum(table), abs=1e-15)
    assert (got.low, got.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))


def test_newcombe_reference_reproduces_the_table() -> None:
    """The fixed values above are what the reference gives (so neither drifted)."""
    for table, confidence, low, high in NEWCOMBE_TABLE:
        ref = _newcombe_reference(*table, confidence)
        assert ref == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))


def test_newcombe_agrees_with_the_reference_on_a_grid() -> None:
    for e, f, g, h in [
        (e, f, g, 12 - e) for e in range(0, 13, 3) for f in range(4) for g in range(4)
    ]:
        got = paired_difference(
            both=e, only_candidate=f, only_baseline=g, neither=h, confidence=0.95
        )
        low, high = _newcombe_reference(e, f, g, h, 0.95)
        assert (got.low, got.high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
        assert -1.0 <= got.low <= got.value <= got.high <= 1.0


def test_newcombe_swapping_the_arms_mirrors_the_interval() -> None:
    a = paired_difference(both=36, only_candidate=12, only_baseline=2, neither=0, confidence=0.95)
    b = paired_difference(both=36, only_candidate=2, only_baseline=12, neither=0, confidence=0.95)
    assert (b.value, b.low, b.high) == (
        pytest.approx(-a.value),
        pytest.approx(-a.high),
        pytest.approx(-a.low),
    )


@pytest.mark.parametrize("counts", [(0, 0, 0, 0), (-1, 2, 3, 4), (1, 2, -3, 4)])
def test_newcombe_refuses_impossible_tables(counts: tuple[int, int, int, int]) -> None:
    e, f, g, h = counts
    with pytest.raises(ValueError, match="counts >= 0"):
        paired_difference(both=e, only_candidate=f, only_baseline=g, neither=h, confidence=0.95)
