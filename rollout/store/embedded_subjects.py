"""Distinct subjects for the embedded store: exact, in memory, O(1) per subject added.

The controller always asks "how many distinct subjects since `since`", so a subject only needs
its latest bucket: it counts for every window that starts at or before that bucket. Per rollout
we keep subject -> latest bucket (a dict in least-recently-seen order) and, per bucket, how many
subjects have it as their latest; a count adds up those of the buckets since `since`.

Why not a set per bucket, or a HyperLogLog as Redis has: the union of a window's sets costs
every subject of every bucket on each count, and both keep a copy per bucket (a dense
HyperLogLog is 12 KB per bucket, 100 MB a day of 10 s buckets). Here memory is one entry per
distinct subject within the retention, at most `max_subjects` per rollout: beyond, the least
recently seen are forgotten, so a count is min(true count, max_subjects) for any window, never
more than the truth (a minimum sample is then met later, never too early).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

MAX_SUBJECTS = 200_000  # per rollout: about 35 MB at most


class _Latest:
    __slots__ = ("expires", "latest", "per_bucket")

    def __init__(self) -> None:
        self.latest: dict[str, int] = {}  # subject -> latest bucket, least recently seen first
        self.per_bucket: dict[int, int] = {}  # bucket -> subjects whose latest bucket it is
        self.expires: dict[int, float] = {}  # bucket -> when it expires (monotonic)

    def see(self, subject: str, bucket: int) -> None:
        old = self.latest.get(subject)
        if old is not None:
            if old >= bucket:
                return
            del self.latest[subject]  # re-inserted below: now the most recently seen
            self._uncount(old)
        self.latest[subject] = bucket
        self.per_bucket[bucket] = self.per_bucket.get(bucket, 0) + 1

    def count(self, since: int, now: float) -> int:
        return sum(
            n for b, n in self.per_bucket.items() if b >= since and self.expires.get(b, 0.0) > now
        )

    def forget_oldest(self, keep: int) -> None:
        while len(self.latest) > keep:
            subject = next(iter(self.latest))
            self._uncount(self.latest.pop(subject))

    def sweep(self, now: float) -> None:
        """Forget the expired buckets, and the least recently seen subjects whose latest bucket
        expired (in practice all of them: buckets are added in time order)."""
        for bucket in [b for b, at in self.expires.items() if at <= now]:
            del self.expires[bucket]
        while self.latest:
            subject = next(iter(self.latest))
            if self.latest[subject] in self.expires:
                break
            self._uncount(self.latest.pop(subject))

    def _uncount(self, bucket: int) -> None:
        left = self.per_bucket[bucket] - 1
        if left:
            self.per_bucket[bucket] = left
        else:
            del self.per_bucket[bucket]


class MemorySubjects:
    def __init__(self, retention: float, max_subjects: int = MAX_SUBJECTS) -> None:
        self._retention, self._max = retention, max_subjects
        self._rollouts: dict[str, _Latest] = {}

    async def add(self, rollout: str, buckets: Mapping[int, Collection[str]]) -> None:
        now = time.monotonic()
        seen = self._rollouts.setdefault(rollout, _Latest())
        seen.sweep(now)
        for bucket, subjects in sorted(buckets.items()):
            if not subjects:
                continue
            seen.expires[int(bucket)] = now + self._retention
            for subject in subjects:
                seen.see(subject, int(bucket))
        seen.forget_oldest(self._max)

    async def count(self, rollout: str, since: int) -> int:
        seen = self._rollouts.get(rollout)
        return 0 if seen is None else seen.count(int(since), time.monotonic())
