"""The paired bootstrap and its statistics: scipy.stats.bootstrap(..., paired=True,
method="percentile") on fixed data, coverage on simulated data with a known true ratio, the
resampling written out, and numpy's inverted_cdf quantile for the nearest-rank convention."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.stats import bootstrap

from rollout.stats.gate_stats import Interval
from rollout.stats.paired import (
    difference_of_means,
    paired_bootstrap,
    quantile,
    ratio_of_means,
    ratio_of_quantiles,
)

# --- quantile and the statistics -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [  # nearest rank: the ceil(q·n)-th smallest (numpy's method="inverted_cdf")
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([float(i) for i in range(1, 101)], 0.95, 95.0),
        ([float(i) for i in range(1, 201)], 0.95, 190.0),
        ([5.0], 0.99, 5.0),
        ([4.0, 8.0], 0.0, 4.0),
        ([4.0, 8.0], 1.0, 8.0),
    ],
)
def test_quantile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == expected
    assert quantile(values, q) == np.quantile(values, q, method="inverted_cdf")


def test_quantile_rank_ignores_float_noise() -> None:
    """0.07 * 100 is 7.000000000000001: the 7th value is meant (numpy's inverted_cdf says 8th),
    as in the live histograms' quantiles."""
    assert quantile([float(i) for i in range(1, 101)], 0.07) == 7.0


def test_quantile_refuses_no_values_and_bad_q() -> None:
    with pytest.raises(ValueError, match="no values"):
        quantile([], 0.5)
    with pytest.raises(ValueError, match="0 <= q <= 1"):
        quantile([1.0], 1.5)
    with pytest.raises(ValueError, match="0 <= q <= 1"):
        ratio_of_quantiles(-0.1)


@pytest.mark.parametrize(
    ("b", "c", "p95_ratio", "means_ratio", "means_diff"),
    [
        ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], 2.0, 2.0, 2.5),
        ([10.0, 10.0], [5.0, 20.0], 2.0, 1.25, 2.5),
        ([0.0, 0.0], [1.0, 0.0], math.inf, math.inf, 0.5),
        ([1.0, 1.0], [0.0, 0.0], 0.0, 0.0, -1.0),
    ],
)
def test_statistics(
    b: list[float], c: list[float], p95_ratio: float, means_ratio: float, means_diff: float
) -> None:
    assert ratio_of_quantiles(0.95)(b, c) == p95_ratio
    assert ratio_of_means(b, c) == means_ratio
    assert difference_of_means(b, c) == means_diff


def test_ratio_of_zero_by_zero_is_undefined() -> None:
    assert math.isnan(ratio_of_means([0.0], [0.0]))


# --- paired bootstrap ----------------------------------------------------------------------------


def _latencies(n: int, ratio: float, seed: int) -> tuple[list[float], list[float]]:
    """Paired latencies: each case has its own size (lognormal), the candidate takes `ratio`
    times as long on average, with its own noise."""
    rng = random.Random(seed)
    size = [rng.lognormvariate(0.0, 0.8) for _ in range(n)]
    base = [s * rng.expovariate(1.0) for s in size]
    cand = [ratio * s * rng.expovariate(1.0) for s in size]
    return base, cand


def test_bootstrap_is_reproducible() -> None:
    b, c = _latencies(200, 1.2, seed=1)
    first = paired_bootstrap(b, c, ratio_of_quantiles(0.95), confidence=0.95, seed=7)
    again = paired_bootstrap(b, c, ratio_of_quantiles(0.95), confidence=0.95, seed=7)
    other = paired_bootstrap(b, c, ratio_of_quantiles(0.95), confidence=0.95, seed=8)
    assert first == again
    assert other != first and other.value == first.value
    assert first.low < first.value < first.high


def test_bootstrap_is_the_documented_resampling() -> None:
    """The interval is exactly this: random.Random(seed).choices over the case indices, one
    draw of n per resample, the statistic on both arms at those indices, and the nearest-rank
    percentiles of the sorted draws. Written out here so that a change to the resampling (which
    changes every published interval) is deliberate."""
    b, c = [1.0, 2.0, 3.0, 4.0, 5.0], [1.13, 2.71, 4.9, 7.3, 12.7]
    rng = random.Random(3)
    draws = []
    for _ in range(50):
        idx = rng.choices(range(5), k=5)
        draws.append(sum(c[i] - b[i] for i in idx) / 5)
    draws.sort()
    expected = Interval(
        sum(c) / 5 - 3.0, draws[math.ceil(0.1 * 50) - 1], draws[math.ceil(0.9 * 50) - 1]
    )
    got = paired_bootstrap(b, c, difference_of_means, confidence=0.8, resamples=50, seed=3)
    assert got.value == pytest.approx(expected.value)
    assert (got.low, got.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert got.low < got.high


@pytest.mark.parametrize(
    ("name", "ours", "theirs", "n"),
    [
        ("p95 ratio", ratio_of_quantiles(0.95), "p95", 200),
        ("ratio of means", ratio_of_means, "means", 60),
    ],
)
def test_bootstrap_agrees_with_scipy(name: str, ours: object, theirs: str, n: int) -> None:
    """Same data, same method, different random streams: the ends agree within Monte Carlo error
    (with 10,000 resamples each end's standard error is ~1% of the width; allowed: 5%)."""

    def scipy_stat(b: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        if theirs == "p95":
            return np.quantile(c, 0.95, method="inverted_cdf", axis=axis) / np.quantile(
                b, 0.95, method="inverted_cdf", axis=axis
            )
        return np.mean(c, axis=axis) / np.mean(b, axis=axis)

    b, c = _latencies(n, 1.3, seed=3)
    got = paired_bootstrap(b, c, ours, confidence=0.95, resamples=10_000, seed=0)  # type: ignore[arg-type]
    ref = bootstrap(
        (np.array(b), np.array(c)),
        scipy_stat,
        paired=True,
        vectorized=True,
        method="percentile",
        confidence_level=0.95,
        n_resamples=10_000,
        rng=np.random.default_rng(0),
    ).confidence_interval
    width = ref.high - ref.low
    assert got.value == pytest.approx(float(scipy_stat(np.array(b), np.array(c))), rel=1e-12)
    assert abs(got.low - ref.low) <= 0.05 * width, name
    assert abs(got.high - ref.high) <= 0.05 * width, name


def test_bootstrap_coverage_on_simulated_data() -> None:
    """200 simulated eval sets of 80 cases with a true ratio of means of 1.2: the 95% interval
    should cover it in roughly 90-99% of them (percentile intervals run a little short at small
    n). 400 resamples each keeps this under a couple of seconds."""
    covered = 0
    for seed in range(200):
        b, c = _latencies(80, 1.2, seed=1000 + seed)
        got = paired_bootstrap(b, c, ratio_of_means, confidence=0.95, resamples=400, seed=seed)
        covered += got.low <= 1.2 <= got.high
    assert 180 <= covered <= 198, covered


def test_bootstrap_pairing_narrows_the_interval() -> None:
    """The reason to pair: resampling the arms separately (breaking the pairs) gives a wider
    interval for the same data, because the cases' own sizes no longer cancel."""
    b, c = _latencies(200, 1.2, seed=5)
    paired = paired_bootstrap(b, c, ratio_of_means, confidence=0.95, seed=0)
    rng = random.Random(0)
    unpaired = [
        ratio_of_means(rng.choices(b, k=len(b)), rng.choices(c, k=len(c))) for _ in range(2000)
    ]
    unpaired.sort()
    assert paired.high - paired.low < 0.8 * (quantile(unpaired, 0.975) - quantile(unpaired, 0.025))


def test_bootstrap_opens_the_interval_when_the_statistic_is_undefined() -> None:
    # Baseline zero on 3 of 4 cases: some resamples have a zero mean on both arms (0 / 0).
    got = paired_bootstrap(
        [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 2.0], ratio_of_means, confidence=0.95
    )
    assert (got.value, got.low, got.high) == (2.0, -math.inf, math.inf)


@pytest.mark.parametrize(
    ("b", "c", "kwargs", "message"),
    [
        ([], [], {}, "no cases"),
        ([1.0, 2.0], [1.0], {}, "equal lengths"),
        ([1.0], [1.0], {"resamples": 0}, "resamples >= 1"),
        ([1.0], [1.0], {"confidence": 1.0}, "confidence < 1"),
    ],
)
def test_bootstrap_refuses_bad_input(
    b: list[float], c: list[float], kwargs: dict[str, float], message: str
) -> None:
    args: dict[str, float] = {"confidence": 0.95, **kwargs}
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(b, c, ratio_of_means, **args)  # type: ignore[arg-type]
