"""Paired comparisons for offline evaluation: every case of a dataset answered by both arms.

Pairing removes the spread between cases (an easy case passes on both arms, a hard one fails on
both) from the comparison, so the same dataset sees a smaller regression than two independent
samples would (bench/eval_power.py measures how much). Three tools:

- McNemar's exact test on the discordant pairs: under "no difference" each discordant case is as
  likely to go either way, so the candidate's share of them is Binomial(discordant, 1/2). Exact,
  like the Fisher test the live gates use (gate_stats.more_hits_p_value), at any sample size.
- Newcombe's interval for a paired difference of proportions (his method 10, 1998): the two
  marginal Wilson intervals combined as for independent arms (gate_stats.mover_difference) but
  with their correlation taken out. Defined with no discordant pairs and at small n.
- A paired bootstrap for anything else (ratios of p95 latencies or of mean costs): resample
  cases, both arms' values together, and read the percentile interval.

Pure Python (the package's core has no numpy); deterministic given a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from rollout.stats.gate_stats import Interval, log_choose, wilson

Statistic = Callable[[Sequence[float], Sequence[float]], float]


# McNemar's exact test ---------------------------------------------------------------------------


def mcnemar_worse_p(worse: int, better: int) -> float:
    """One-sided exact p-value that the candidate fails more often than the baseline.

    worse: cases the baseline passed and the candidate failed; better: the opposite. The p-value
    is P(X >= worse), X ~ Binomial(worse + better, 1/2); 1.0 with no discordant pairs (nothing
    tells the arms apart)."""
    if worse < 0 or better < 0:
        raise ValueError(f"need counts >= 0, got worse={worse}, better={better}")
    return _half_binomial_upper_tail(worse, worse + better)


def mcnemar_two_sided_p(worse: int, better: int) -> float:
    """Two-sided exact p-value (either arm fails more often): twice the smaller tail, at most 1.
    Binomial(n, 1/2) is symmetric, so this is also the "as or less likely" p-value."""
    if worse < 0 or better < 0:
        raise ValueError(f"need counts >= 0, got worse={worse}, better={better}")
    return min(1.0, 2.0 * _half_binomial_upper_tail(max(worse, better), worse + better))


def _half_binomial_upper_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), summed up from k. Terms shrink past the mode (n/2), so
    the sum stops once they no longer change it; below the mode, by symmetry, 1 - P(X >= n-k+1)
    (the sum then starts past the mode too): at most ~10·sqrt(n) terms, 1.5 ms at n = 10^6."""
    if k <= 0:
        return 1.0
    if k <= n / 2:  # P(X >= k) = 1 - P(X <= k - 1) = 1 - P(X >= n - k + 1)
        return 1.0 - _half_binomial_upper_tail(n - k + 1, n)
    log_half_n = n * math.log(2.0)
    tail = 0.0
    for j in range(k, n + 1):
        term = math.exp(log_choose(n, j) - log_half_n)
        tail += term
        if term < 1e-17 * tail and j > n / 2:
            break
    return min(1.0, tail)


# Newcombe's interval for a paired difference ----------------------------------------------------


def paired_difference(
    *, both: int, only_baseline: int, only_candidate: int, neither: int, confidence: float
) -> Interval:
    """How much more often the candidate has the event than the baseline, on the same cases:
    (only_candidate - only_baseline) / n with Newcombe's method 10 interval (two-sided).

    The event is whatever is counted: a failure for a pass rate (then > 0 is a regression), a
    refusal, a schema violation. Keyword-only: swapping the two discordant counts would silently
    flip the sign."""
    counts = (both, only_baseline, only_candidate, neither)
    if min(counts) < 0 or sum(counts) == 0:
        raise ValueError(f"need counts >= 0 and at least one case, got {counts}")
    n = sum(counts)
    cand = wilson(both + only_candidate, n, confidence)
    base = wilson(both + only_baseline, n, confidence)
    phi = _corrected_phi(both, only_candidate, only_baseline, neither)
    d = cand.value - base.value
    # Square-and-add with the covariance term: the low end takes the candidate's reach below
    # and the baseline's reach above; correlated arms move together, so their reaches partly
    # cancel (Newcombe 1998, eq. for method 10).
    low = d - _combine(cand.value - cand.low, base.high - base.value, phi)
    high = d + _combine(cand.high - cand.value, base.value - base.low, phi)
    return Interval(d, max(-1.0, low), min(1.0, high))


def _combine(a: float, b: float, phi: float) -> float:
    """sqrt(a² - 2·phi·a·b + b²); >= |a - b| >= 0 for |phi| <= 1 (max() only absorbs rounding)."""
    return math.sqrt(max(0.0, a * a - 2.0 * phi * a * b + b * b))


def _corrected_phi(e: int, f: int, g: int, h: int) -> float:
    """Newcombe's estimate of the correlation between the two marginal proportions, for the
    table [[e, f], [g, h]] (first arm's event in rows): the phi coefficient with its numerator
    eh - fg shrunk towards 0 by n/2 when positive (a continuity correction: a positive
    correlation narrows the interval, so it is not taken at face value) and 0 when a margin is
    empty (phi is undefined, and 0 is the independent-arms interval)."""
    n = e + f + g + h
    margins = (e + f) * (g + h) * (e + g) * (f + h)
    if margins == 0:
        return 0.0
    cross = e * h - f * g
    if cross > n / 2:
        corrected = cross - n / 2
    elif cross >= 0:
        corrected = 0.0
    else:
        corrected = float(cross)
    return corrected / math.sqrt(margins)


# Paired bootstrap -------------------------------------------------------------------------------


def paired_bootstrap(
    baseline: Sequence[float],
    candidate: Sequence[float],
    statistic: Statistic,
    *,
    confidence: float,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """statistic(baseline, candidate) with its percentile bootstrap interval: cases resampled
    with replacement, each case's two values kept together (the pairing is what makes the
    interval narrow). Reproducible: the same seed gives the same interval.

    No cases: ValueError, as for an empty histogram in gate_stats. A statistic undefined on some
    resample (NaN, e.g. a ratio of two zero means) leaves the interval open (-inf, inf): its ends
    would otherwise rest on the resamples where it happened to be defined."""
    n = len(baseline)
    if n != len(candidate):
        raise ValueError(f"paired samples need equal lengths, got {n} and {len(candidate)}")
    if n == 0:
        raise ValueError("no cases to bootstrap")
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(
            f"need resamples >= 1 and 0 < confidence < 1, got {resamples}, {confidence}"
        )
    b, c = list(baseline), list(candidate)
    value = statistic(b, c)
    draws = _resampled(b, c, statistic, resamples, random.Random(seed))
    if any(math.isnan(x) for x in draws):
        return Interval(value, -math.inf, math.inf)
    draws.sort()
    tail = (1.0 - confidence) / 2.0
    return Interval(value, _sorted_quantile(draws, tail), _sorted_quantile(draws, 1.0 - tail))


def _resampled(
    b: list[float], c: list[float], statistic: Statistic, resamples: int, rng: random.Random
) -> list[float]:
    """The statistic on `resamples` resamples of the case indices (the loop is the whole cost:
    indices by rng.choices, values by list comprehension, both cheaper than any per-value call)."""
    cases = range(len(b))
    draws = []
    for _ in range(resamples):
        picked = rng.choices(cases, k=len(cases))
        draws.append(statistic([b[i] for i in picked], [c[i] for i in picked]))
    return draws


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank q-quantile: the k-th smallest value, k = ceil(q·n) clamped to [1, n], the
    convention of the live latency histograms (rollout/stats/histogram.py), so an offline p95 and
    a live one mean the same thing."""
    if not values:
        raise ValueError("quantile of no values")
    return _sorted_quantile(sorted(values), q)


def _sorted_quantile(ordered: Sequence[float], q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"need 0 <= q <= 1, got {q}")
    n = len(ordered)
    # q·n taken a hair below its float value: 0.07 * 100 is 7.000000000000001, rank 7 is meant
    rank = min(max(math.ceil(q * n * (1 - 1e-12)), 1), n)
    return ordered[rank - 1]


def ratio_of_quantiles(q: float) -> Statistic:
    """The statistic candidate q-quantile / baseline q-quantile (e.g. q = 0.95: the p95 ratio)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"need 0 <= q <= 1, got {q}")

    def statistic(b: Sequence[float], c: Sequence[float]) -> float:
        return _ratio(quantile(c, q), quantile(b, q))

    return statistic


def ratio_of_means(b: Sequence[float], c: Sequence[float]) -> float:
    """Candidate mean / baseline mean (e.g. cost per case); equal lengths, so the sums' ratio."""
    return _ratio(math.fsum(c), math.fsum(b))


def difference_of_means(b: Sequence[float], c: Sequence[float]) -> float:
    """Candidate mean - baseline mean (e.g. a score per case)."""
    if not b or not c:
        raise ValueError("mean of no values")
    return math.fsum(c) / len(c) - math.fsum(b) / len(b)


def _ratio(num: float, den: float) -> float:
    """num / den; a zero denominator gives inf (or NaN for 0 / 0, which opens the interval)."""
    if den == 0.0:
        return math.inf if num > 0.0 else (math.nan if num == 0.0 else -math.inf)
    return num / den
