"""LogHistogram: quantile accuracy against exact nearest-rank quantiles, merging, field round trip.

Nearest rank (the convention the histogram documents): the k-th smallest of n values, 1-based,
k = ceil(q·n) clamped to [1, n]. Here q·n is computed exactly from the decimal q with Fraction, so
the reference does not share the histogram's float arithmetic.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.stats.histogram import (
    GAMMA,
    MIN_VALUE,
    RELATIVE_ACCURACY,
    LogHistogram,
    representative,
)

QUANTILES = ("0.5", "0.9", "0.95", "0.99")
# Float rounding in log/pow may sit a hair outside the exact 2% bound at a bucket edge.
TOLERANCE = RELATIVE_ACCURACY * (1 + 1e-9)

LOW, HIGH = 1e-4, 1e3


def _bulk(rng: random.Random, n: int, shape: str) -> list[float]:
    """n values in [LOW, HIGH] drawn from `shape`; "edges" sits on bucket boundaries, where the
    representative is furthest (exactly 2%) from the values."""
    lo, hi = math.log(LOW), math.log(HIGH)
    if shape == "loguniform":
        return [math.exp(rng.uniform(lo, hi)) for _ in range(n)]
    if shape == "uniform":
        return [rng.uniform(LOW, HIGH) for _ in range(n)]
    if shape == "edges":
        k_lo, k_hi = math.ceil(lo / math.log(GAMMA)), math.floor(hi / math.log(GAMMA))
        return [GAMMA ** rng.randint(k_lo, k_hi) * rng.choice((1.0, 1 + 1e-12)) for _ in range(n)]
    # "latency": a log-normal body around 300 ms with a slow tail, clipped to the range
    return [min(max(rng.lognormvariate(math.log(0.3), 1.2), LOW), HIGH) for _ in range(n)]


def latency_lists(max_few: int = 20) -> st.SearchStrategy[list[float]]:
    """Lists of 1..2000 values in [LOW, HIGH].

    Hypothesis alone draws short lists (rarely more than ~20 floats), so each list is a few
    hypothesis-chosen floats (shrinkable edge cases) plus up to 2000 seeded values of one shape.
    """
    return st.builds(
        lambda few, n, seed, shape: (few + _bulk(random.Random(seed), n, shape))[:2000],
        st.lists(st.floats(min_value=LOW, max_value=HIGH), max_size=max_few),
        st.one_of(st.integers(min_value=0, max_value=2000), st.just(2000)),
        # A seed, not st.randoms(): every draw from st.randoms() spends hypothesis entropy.
        st.integers(min_value=0, max_value=2**32 - 1),
        st.sampled_from(("loguniform", "uniform", "edges", "latency")),
    ).filter(bool)


latencies = latency_lists()


def nearest_rank(values: list[float], q: str) -> float:
    ordered = sorted(values)
    k = math.ceil(Fraction(q) * len(ordered))
    return ordered[min(max(k, 1), len(ordered)) - 1]


def histogram_of(values: list[float]) -> LogHistogram:
    histogram = LogHistogram()
    for value in values:
        histogram.add(value)
    return histogram


def summed(*field_dicts: dict[str, float]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for fields in field_dicts:
        total.update(fields)
    return dict(total)


@settings(max_examples=150, deadline=None)
@given(latencies)
def test_quantiles_within_two_percent_of_exact_nearest_rank(values: list[float]) -> None:
    histogram = histogram_of(values)
    for q in QUANTILES:
        exact = nearest_rank(values, q)
        estimate = histogram.quantile(float(q))
        assert estimate is not None
        assert abs(estimate - exact) <= TOLERANCE * exact, (q, exact, estimate)
    assert histogram.count == len(values)
    assert histogram.sum == pytest.approx(math.fsum(values), rel=1e-9)


@pytest.mark.parametrize("value", [1e-6, 1e-5, 3.3e-3, 0.25, 1.0, 7.77, 1234.5, 1e5])
def test_single_value_at_the_ends_of_the_guaranteed_range(value: float) -> None:
    histogram = LogHistogram()
    histogram.add(value)
    estimate = histogram.quantile(0.5)
    assert estimate is not None
    assert abs(estimate - value) <= TOLERANCE * value


def test_bucket_edges_and_representative_formula() -> None:
    # Bucket 0 is (1/gamma, 1]; its representative 2/(gamma+1) is 2% below 1.0 and 2% above
    # 1/gamma, the worst cases at both edges.
    assert pytest.approx(1.02 / 0.98) == GAMMA
    assert representative(0) == pytest.approx(0.98)
    assert representative(1) == pytest.approx(2 * GAMMA / (GAMMA + 1))
    histogram = LogHistogram()
    histogram.add(1.0)
    assert histogram.bucket_counts() == [(representative(0), 1)]


def close(estimate: float | None, exact: float) -> bool:
    return estimate is not None and abs(estimate - exact) <= TOLERANCE * exact


def test_nearest_rank_convention_on_a_small_known_list() -> None:
    histogram = histogram_of([float(v) for v in range(1, 101)])
    # rank ceil(0.07·100) = 7 → 7.0, although 0.07 * 100 == 7.000000000000001 in floats
    assert close(histogram.quantile(0.07), 7.0)
    assert not close(histogram.quantile(0.07), 8.0)
    assert close(histogram.quantile(0.5), 50.0)  # rank 50
    assert close(histogram.quantile(0.555), 56.0)  # rank ceil(55.5) = 56
    assert close(histogram.quantile(0.0), 1.0)  # rank 1
    assert close(histogram.quantile(1.0), 100.0)


def test_zero_bucket_for_values_below_the_minimum() -> None:
    histogram = histogram_of([0.0, MIN_VALUE / 2, -1.0, 2.0])
    assert histogram.zero_count == 3
    assert histogram.count == 4
    assert histogram.quantile(0.75) == 0.0  # rank 3 is still in the zero bucket
    assert close(histogram.quantile(1.0), 2.0)
    assert histogram.bucket_counts()[0] == (0.0, 3)


def test_add_with_count_and_invalid_input() -> None:
    histogram = LogHistogram()
    histogram.add(0.5, count=3)
    histogram.add(0.5, count=0)
    assert (histogram.count, histogram.sum) == (3, 1.5)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            histogram.add(bad)
    with pytest.raises(ValueError):
        histogram.add(1.0, count=-1)
    with pytest.raises(ValueError):
        histogram.quantile(1.5)
    assert histogram.count == 3  # failed adds changed nothing


def test_empty_histogram() -> None:
    histogram = LogHistogram()
    assert histogram.count == 0 and histogram.sum == 0.0
    assert histogram.quantile(0.5) is None
    assert histogram.mean is None
    assert histogram.bucket_counts() == []
    assert histogram.to_fields("lat") == {"lat:count": 0, "lat:sum": 0.0}
    restored = LogHistogram.from_fields("lat", {})
    assert restored.count == 0 and restored.quantile(0.99) is None


def _same(a: LogHistogram, b: LogHistogram) -> None:
    assert a.bucket_counts() == b.bucket_counts()
    assert a.count == b.count
    assert a.sum == pytest.approx(b.sum, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(latency_lists(max_few=3), min_size=3, max_size=3))
def test_merge_is_associative_commutative_and_equals_one_histogram(
    parts: list[list[float]],
) -> None:
    a, b, c = (histogram_of(p) for p in parts)
    left = a.copy()
    left.merge(b)
    left.merge(c)  # (a+b)+c
    bc = b.copy()
    bc.merge(c)
    right = a.copy()
    right.merge(bc)  # a+(b+c)
    swapped = c.copy()
    swapped.merge(a)
    swapped.merge(b)  # (c+a)+b
    _same(left, right)
    _same(left, swapped)
    _same(left, histogram_of(parts[0] + parts[1] + parts[2]))


@settings(max_examples=40, deadline=None)
@given(latency_lists(max_few=5), latency_lists(max_few=5))
def test_summed_fields_equal_the_merged_histogram(xs: list[float], ys: list[float]) -> None:
    a, b = histogram_of(xs), histogram_of([*ys, 0.0])  # one zero-bucket value too
    merged = a.copy()
    merged.merge(b)
    restored = LogHistogram.from_fields(
        "p95:cand", summed(a.to_fields("p95:cand"), b.to_fields("p95:cand"))
    )
    _same(restored, merged)
    for q in (0.5, 0.99):
        assert restored.quantile(q) == merged.quantile(q)


def test_fields_round_trip_and_ignore_other_prefixes() -> None:
    histogram = histogram_of([0.0, 0.003, 0.2, 0.2, 41.0])
    fields = histogram.to_fields("lat:base")
    assert fields["lat:base:count"] == 5
    assert fields["lat:base:zero"] == 1
    assert sum(v for k, v in fields.items() if ":b:" in k) == 4
    # Another histogram in the same hash, and values as a store returns them (strings, floats).
    other = LogHistogram()
    other.add(99.0)
    stored = {k: str(float(v)) for k, v in {**fields, **other.to_fields("lat:cand")}.items()}
    _same(LogHistogram.from_fields("lat:base", stored), histogram)
    with pytest.raises(ValueError):
        LogHistogram.from_fields("x", {"x:b:3": 1.5})  # a fractional count is corruption
