"""Confidence intervals for the gates, cheap enough to run every evaluation and honest about what
the metric windows can support. All confidence levels are two-sided.

- One proportion: the Wilson score interval (good coverage near 0 and 1, where error rates live).
- Candidate minus r times baseline: MOVER (Newcombe's hybrid score method; Zou & Donner 2008)
  built from the two Wilson intervals. r = 1 is Newcombe's interval for a difference (his method
  10); a ratio bound p_c / p_b <= r is tested as p_c - r·p_b <= 0, which stays defined when the
  baseline saw no errors (inverting it is the MOVER-R ratio interval).
- A quantile from a LogHistogram: the distribution-free order-statistic interval — ranks l and u
  from Binomial(n, q) with P(l <= B <= u-1) >= confidence, read back as the values at those ranks
  (within the histogram's 2%). No resampling, no seed, exact coverage >= the level for any
  continuous distribution. Comparing two arms combines the two intervals, each at the full
  confidence, by MOVER as for proportions: on the log scale for a ratio, so the candidate's
  reach below and the baseline's reach above make the low end. (Bonferroni — each arm at
  1 - alpha/2, ends divided — was used first; `rollout simulate` showed it too wide to see a p95
  30% over a 1.2 bound at hundreds of requests, and MOVER kept its coverage: see the tests.)
- "Worse than the baseline" on proportions (the first stage's regression test): Fisher's exact
  test, one-sided; the intervals above are approximations, too liberal at a few events for a
  test whose level is its whole false-alarm budget (rollout/control/regression_test.py).
- Cost per 1k requests: the windows keep sums, not squares, so the spread comes from the time
  buckets as batches: the ratio estimator sum(cost) / sum(priced) with its cluster-sampling
  variance, and a Student t quantile with m - 1 degrees of freedom over m buckets.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from rollout.stats.histogram import LogHistogram

MIN_BATCHES = 6  # cost intervals need a spread: at least this many buckets with priced calls


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate and a two-sided interval; ends may be infinite (nothing shown)."""

    value: float
    low: float
    high: float


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.959964 for 0.95."""
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def t_value(confidence: float, df: int) -> float:
    """Two-sided Student t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5);
    within 0.1% of the exact value for df >= 5, which is all the cost intervals use."""
    z = z_value(confidence)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def wilson(hits: int, trials: int, confidence: float) -> Interval:
    """Wilson score interval for hits / trials (trials > 0)."""
    if trials <= 0 or not 0 <= hits <= trials:
        raise ValueError(f"need 0 <= hits <= trials and trials > 0, got {hits}/{trials}")
    z = z_value(confidence)
    p = hits / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    # Clamp float noise: at p = 0 the lower end is exactly 0 in theory.
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mover_difference(
    cand: tuple[int, int],
    base: tuple[int, int],
    confidence: float,
    ratio: float = 1.0,
) -> Interval:
    """Interval for p_c - ratio·p_b from (hits, trials) of each arm (MOVER with Wilson limits).
    ratio = 1: Newcombe's hybrid score interval for the difference of two proportions (method
    10)."""
    c = wilson(*cand, confidence)
    b = wilson(*base, confidence)
    d = c.value - ratio * b.value
    low = d - math.hypot(c.value - c.low, ratio * (b.high - b.value))
    high = d + math.hypot(c.high - c.value, ratio * (b.value - b.low))
    if ratio == 1.0:  # a difference of proportions: clamp float noise (1.0000000000000002)
        low, high = max(-1.0, low), min(1.0, high)
    return Interval(d, low, high)


def more_hits_p_value(cand: tuple[int, int], base: tuple[int, int]) -> float:
    """One-sided p-value of Fisher's exact test that the candidate's rate is higher than the
    baseline's, from (hits, trials) of each arm: given the hits of both together, the chance
    that the candidate's share of them is at least what it saw (hypergeometric upper tail).
    Exact: under equal rates it is <= a with probability <= a, at any sample size, which an
    interval built from normal approximations is not at a few hits."""
    (x, n_c), (b, n_b) = cand, base
    if n_c <= 0 or n_b < 0 or not (0 <= x <= n_c and 0 <= b <= n_b):
        raise ValueError(f"need 0 <= hits <= trials, got {x}/{n_c} and {b}/{n_b}")
    hits, total = x + b, n_c + n_b
    top = min(hits, n_c)

    def log_pmf(k: int) -> float:
        return log_choose(hits, k) + log_choose(total - hits, n_c - k)

    norm = log_choose(total, n_c)
    tail, k = 0.0, x
    while k <= top:
        term = math.exp(log_pmf(k) - norm)
        tail += term
        if term < 1e-17 * tail and k > hits * n_c / total:  # past the mode: only smaller terms
            break
        k += 1
    return min(1.0, tail)


def log_choose(n: int, k: int) -> float:
    """log C(n, k), by the log-gamma function: exact enough, and never overflows."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _binomial_cdf(n: int, q: float) -> tuple[int, list[float]]:
    """(lo, cdf) with cdf[j - lo] = P(Binomial(n, q) <= j) for lo <= j <= hi. Terms more than
    15 standard deviations (+20) from the mean are below 1e-40 (Bernstein) and left out. The
    probabilities are walked out from the mode by the ratio of neighbours (one lgamma call, not
    three per term); far terms may underflow to 0, which is what they are at this precision."""
    mean, sd = n * q, math.sqrt(n * q * (1 - q))
    lo = max(0, math.floor(mean - 15 * sd - 20))
    hi = min(n, math.ceil(mean + 15 * sd + 20))
    mode = min(max(math.floor((n + 1) * q), lo), hi)
    odds = q / (1.0 - q)
    log_choose = math.lgamma(n + 1) - math.lgamma(mode + 1) - math.lgamma(n - mode + 1)
    peak = math.exp(log_choose + mode * math.log(q) + (n - mode) * math.log1p(-q))
    pmf = [0.0] * (hi - lo + 1)
    pmf[mode - lo] = p = peak
    for k in range(mode, hi):  # P(k + 1) = P(k) · (n - k) / (k + 1) · q / (1 - q)
        p *= (n - k) / (k + 1) * odds
        pmf[k + 1 - lo] = p
    p = peak
    for k in range(mode, lo, -1):  # P(k - 1) = P(k) · k / (n - k + 1) · (1 - q) / q
        p *= k / ((n - k + 1) * odds)
        pmf[k - 1 - lo] = p
    return lo, list(itertools.accumulate(pmf))


@functools.lru_cache(maxsize=4096)  # pure; a stage's looks repeat (n, q, confidence)
def quantile_ranks(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) of the order statistics bounding the q-quantile with probability
    >= confidence: l - 1 is the largest j with P(B <= j) <= alpha/2, u - 1 the smallest j with
    P(B <= j) >= 1 - alpha/2, B ~ Binomial(n, q). None: too few values to bound that side."""
    if n <= 0 or not 0.0 < q < 1.0:
        raise ValueError(f"need n > 0 and 0 < q < 1, got n={n}, q={q}")
    tail = (1.0 - confidence) / 2.0
    lo, cdf = _binomial_cdf(n, q)
    # cdf never decreases, so the crossings are found by bisection. cdf below the window is ~0,
    # i.e. <= tail: with no entry <= tail, j_low = lo - 1.
    j_low = lo + bisect.bisect_right(cdf, tail) - 1
    above = bisect.bisect_left(cdf, 1.0 - tail)
    j_high = lo + above if above < len(cdf) else n
    return (j_low + 1 if j_low >= 0 else None, j_high + 1 if j_high + 1 <= n else None)


def _at_rank(hist: LogHistogram, rank: int) -> float:
    return hist.quantile(rank / hist.count) or 0.0


def quantile_interval(hist: LogHistogram, q: float, confidence: float) -> Interval:
    """The q-quantile of `hist` with its order-statistic interval (0 and inf for open ends)."""
    value = hist.quantile(q)
    if value is None:
        raise ValueError("empty histogram")
    low_rank, high_rank = quantile_ranks(hist.count, q, confidence)
    low = _at_rank(hist, low_rank) if low_rank is not None else 0.0
    high = _at_rank(hist, high_rank) if high_rank is not None else math.inf
    return Interval(value, low, high)


def _mover(value: float, cand: Interval, base: Interval) -> Interval:
    """MOVER for candidate - baseline around `value`: the low end combines the candidate's reach
    below its estimate with the baseline's reach above its own, the high end the reverse."""
    low = math.hypot(cand.value - cand.low, base.high - base.value)
    high = math.hypot(cand.high - cand.value, base.value - base.low)
    return Interval(value, value - low, value + high)


def _log(i: Interval) -> Interval:
    """The interval on the log scale (value > 0); an open low end (0) stays open."""
    low = math.log(i.low) if i.low > 0 else -math.inf
    return Interval(math.log(i.value), low, math.log(i.high))


def quantile_ratio(cand: LogHistogram, base: LogHistogram, q: float, confidence: float) -> Interval:
    """Candidate / baseline q-quantile: MOVER on the log scale from each arm's order-statistic
    interval at `confidence`. Nothing shown (0, inf) when either quantile is 0."""
    c, b = quantile_interval(cand, q, confidence), quantile_interval(base, q, confidence)
    if c.value <= 0.0 or b.value <= 0.0:
        return Interval(_div(c.value, b.value), 0.0, math.inf)
    log_c, log_b = _log(c), _log(b)
    d = _mover(log_c.value - log_b.value, log_c, log_b)
    return Interval(c.value / b.value, math.exp(d.low), math.exp(d.high))


def quantile_delta(cand: LogHistogram, base: LogHistogram, q: float, confidence: float) -> Interval:
    """Candidate - baseline q-quantile: MOVER from each arm's order-statistic interval."""
    c, b = quantile_interval(cand, q, confidence), quantile_interval(base, q, confidence)
    return _mover(c.value - b.value, c, b)


def _div(a: float, b: float) -> float:
    if b == 0.0:
        return math.inf if a > 0.0 else (math.nan if a == 0.0 else -math.inf)
    return a / b


@dataclass(frozen=True, slots=True)
class RatioEstimate:
    """sum(y) / sum(x) over m batches, with the estimator's variance."""

    value: float
    variance: float
    batches: int


def ratio_estimate(batches: Sequence[tuple[float, float]]) -> RatioEstimate:
    """Batches are (x, y), e.g. (priced calls, cost USD) per time bucket. Variance of the ratio
    estimator under cluster sampling: m / (m - 1) · sum((y_i - R x_i)^2) / sum(x)^2."""
    m = len(batches)
    xs, ys = list(map(operator.itemgetter(0), batches)), list(map(operator.itemgetter(1), batches))
    sx = sum(xs)
    if m < 2 or sx <= 0:
        raise ValueError(f"need at least 2 batches with x > 0, got {m}")
    r = sum(ys) / sx
    # sum((y - r·x)^2), with the loops in C: a slow stage has thousands of batches per look
    deviations = list(map(operator.sub, ys, map(float(r).__mul__, xs)))
    residuals = sum(map(operator.mul, deviations, deviations))
    return RatioEstimate(r, m / (m - 1) * residuals / sx**2, m)


def ratio_interval(est: RatioEstimate, confidence: float, scale: float = 1.0) -> Interval:
    """est.value · scale with its t interval (scale = 1000: cost per 1k requests)."""
    half = t_value(confidence, est.batches - 1) * math.sqrt(est.variance)
    return Interval(est.value * scale, (est.value - half) * scale, (est.value + half) * scale)


def ratio_of_ratios(cand: RatioEstimate, base: RatioEstimate, confidence: float) -> Interval:
    """cand / base by the delta method on the log scale (a ratio's interval is lopsided), with
    the smaller arm's degrees of freedom. Both estimates must be > 0."""
    if cand.value <= 0 or base.value <= 0:
        raise ValueError("a ratio needs both estimates > 0")
    se = math.sqrt(cand.variance / cand.value**2 + base.variance / base.value**2)
    half = t_value(confidence, min(cand.batches, base.batches) - 1) * se
    log_ratio = math.log(cand.value / base.value)
    return Interval(math.exp(log_ratio), math.exp(log_ratio - half), math.exp(log_ratio + half))


def difference_of_ratios(
    cand: RatioEstimate, base: RatioEstimate, confidence: float, scale: float = 1.0
) -> Interval:
    """(cand - base) · scale with the smaller arm's degrees of freedom."""
    half = t_value(confidence, min(cand.batches, base.batches) - 1) * math.sqrt(
        cand.variance + base.variance
    )
    d = cand.value - base.value
    return Interval(d * scale, (d - half) * scale, (d + half) * scale)
