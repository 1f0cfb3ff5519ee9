"""A mergeable latency histogram with fixed log-scale buckets (DDSketch-style).

Bucket i holds the values x with gamma^(i-1) < x <= gamma^i, i = ceil(log_gamma(x)), where
gamma = (1 + a) / (1 - a) and a = RELATIVE_ACCURACY = 0.02. Every value in bucket i is within a
relative error a of the bucket's representative value 2·gamma^i / (gamma + 1), so any quantile
read from the histogram is within 2% of the exact one (for values >= MIN_VALUE; up to 1e5 s
and far beyond, since buckets are sparse and unbounded above). Values below MIN_VALUE (1 µs if
the unit is seconds; zero, negatives) are counted in a zero bucket whose representative is 0.

The buckets are fixed — not a parameter — so histograms from every proxy replica, every process
restart and every release line up and merge by adding counts. `to_fields` flattens a histogram to
named numbers a store can add up key by key (Redis HINCRBY/HINCRBYFLOAT); adding two field dicts
and reading them back equals merging the histograms.

Quantile convention ("nearest rank"): quantile(q) is the k-th smallest value, 1-based, with
k = ceil(q·n) clamped to [1, n]; q·n is taken 1e-12 relative below its float value so that float
noise does not move the rank (0.07 * 100 evaluates to 7.000000000000001; rank 7 is meant).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RELATIVE_ACCURACY = 0.02
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
MIN_VALUE = 1e-6

# Field names under the prefix: f"{prefix}:b:{index}" per bucket, plus these three.
_ZERO, _COUNT, _SUM = "zero", "count", "sum"


def representative(index: int) -> float:
    """The value reported for bucket `index`: within RELATIVE_ACCURACY of all of its members."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


def bucket_index(value: float) -> int:
    """The bucket of a value >= MIN_VALUE."""
    return math.ceil(math.log(value) * _INV_LOG_GAMMA)


def _as_count(name: str, value: float | int | str) -> int:
    """A count read back from a store, where it may be a float or a string."""
    number = float(value)
    if not number.is_integer() or number < 0:
        raise ValueError(f"{name}: a bucket count must be a whole number >= 0, got {value!r}")
    return int(number)


class LogHistogram:
    """Counts per log-scale bucket, plus the exact count and sum of the values added."""

    __slots__ = ("_buckets", "count", "sum", "zero_count")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0

    def add(self, value: float, count: int = 1) -> None:
        """Record `value` `count` times. NaN and infinities are bugs upstream: ValueError."""
        if count <= 0:
            if count == 0:
                return
            raise ValueError(f"count must be >= 0, got {count}")
        if value >= MIN_VALUE:
            if value == math.inf:
                raise ValueError("cannot add an infinite value")
            index = math.ceil(math.log(value) * _INV_LOG_GAMMA)
            buckets = self._buckets
            buckets[index] = buckets.get(index, 0) + count
        elif value == value and value != -math.inf:  # NaN fails both comparisons
            self.zero_count += count
        else:
            raise ValueError(f"cannot add {value!r}")
        self.count += count
        self.sum += value * count

    def merge(self, other: LogHistogram) -> None:
        """Add every count of `other` into this histogram, in place."""
        buckets = self._buckets
        for index, n in other._buckets.items():
            buckets[index] = buckets.get(index, 0) + n
        self.zero_count += other.zero_count
        self.count += other.count
        self.sum += other.sum

    def copy(self) -> LogHistogram:
        result = LogHistogram()
        result.merge(self)
        return result

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile (see the module docstring); None when empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        if self.count == 0:
            return None
        rank = min(max(math.ceil(q * self.count * (1 - 1e-12)), 1), self.count)
        seen = self.zero_count
        if seen >= rank:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                return representative(index)
        raise AssertionError("bucket counts do not add up to count")  # pragma: no cover

    def bucket_counts(self) -> list[tuple[float, int]]:
        """(representative value, count) per non-empty bucket, ascending; zero bucket first.

        Representatives are computed identically for every histogram, so two histograms'
        lists can be aligned on the value (e.g. for a Mann-Whitney test with tied buckets).
        """
        result = [(0.0, self.zero_count)] if self.zero_count else []
        result.extend((representative(i), self._buckets[i]) for i in sorted(self._buckets))
        return result

    def to_fields(self, prefix: str) -> dict[str, float]:
        """Flat named numbers: summing two such dicts key by key is merging the histograms."""
        fields: dict[str, float] = {f"{prefix}:b:{i}": n for i, n in self._buckets.items()}
        if self.zero_count:
            fields[f"{prefix}:{_ZERO}"] = self.zero_count
        fields[f"{prefix}:{_COUNT}"] = self.count
        fields[f"{prefix}:{_SUM}"] = self.sum
        return fields

    @classmethod
    def from_fields(cls, prefix: str, fields: Mapping[str, float | int | str]) -> LogHistogram:
        """Read back `to_fields` output (possibly summed); keys of other prefixes are ignored.

        `count` is recomputed from the buckets rather than trusted, so a store that lost a
        field cannot make quantile ranks point past the last bucket.
        """
        result = cls()
        head = prefix + ":"
        bucket_head = head + "b:"
        for key, value in fields.items():
            if not key.startswith(head):
                continue
            if key.startswith(bucket_head):
                n = _as_count(key, value)
                if n:
                    index = int(key[len(bucket_head) :])
                    result._buckets[index] = result._buckets.get(index, 0) + n
            elif key == head + _ZERO:
                result.zero_count += _as_count(key, value)
            elif key == head + _SUM:
                result.sum += float(value)
        result.count = result.zero_count + sum(result._buckets.values())
        return result
