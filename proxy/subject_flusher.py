"""Flush the replica's candidate subjects to the store, once per interval, hashed.

Record adds the subject of every candidate call to a `SubjectAggregator` (a set add in memory,
no I/O on the request path). This task drains it every `interval` seconds, hashes each distinct
subject with the store's key (rollout/control/subject_counts.py; read at the first flush and
again after every store error, so that replicas agree on a new key when the store has lost its
data), and sends one `subjects.add` per rollout carrying all its buckets: one round trip per
rollout and flush, whatever the traffic.

When the store fails, the drained subjects are kept and merged with what arrives meanwhile, and
the next interval tries again (adding a subject twice is harmless: counts are distinct). While
the store stays down, at most `max_pending` buckets per rollout are kept; older ones are dropped
and their subjects counted in llm_rollout_subjects_dropped_total. A lost subject makes a count
low, which holds a ramp longer: never a promotion too early.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math

from prometheus_client import Counter

from proxy.metrics import STORE_ERRORS
from rollout.control.subject_counts import Bucketed, SubjectAggregator, hash_subjects, load_hash_key
from rollout.errors import StoreError
from rollout.store.base import Documents, SubjectCounts
from rollout.tasks import Periodic

log = logging.getLogger("llm_rollout.subjects")

KEEP_SECONDS = 600.0  # how long a store outage may last before buckets are dropped

SUBJECTS_DROPPED = Counter(
    "llm_rollout_subjects_dropped",
    "Candidate subjects left out of the distinct-subject counts: more new subjects in one time "
    "bucket than a replica keeps, or a store outage longer than the flusher keeps buckets.",
)


class SubjectFlusher:
    def __init__(
        self,
        documents: Documents,
        subjects: SubjectCounts,
        aggregator: SubjectAggregator,
        interval: float = 1.0,
        *,
        max_pending: int | None = None,
        stop_timeout: float = 2.0,
    ) -> None:
        self.documents, self.subjects, self.aggregator = documents, subjects, aggregator
        self.interval, self.stop_timeout = interval, stop_timeout
        self.max_pending = max_pending or math.ceil(KEEP_SECONDS / aggregator.bucket_seconds)
        self._key: bytes | None = None
        self._pending: Bucketed = {}
        self._lock = asyncio.Lock()
        self._loop = Periodic("subject-flusher", self.flush_once, interval, log)
        self._failing = False  # in an outage: logged once when it starts, once when it ends

    @property
    def pending(self) -> int:
        """Buckets drained but not yet accepted by the store."""
        return len(self._pending)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop the loop, then flush what is left, giving up after `stop_timeout` seconds."""
        await self._loop.stop(self.stop_timeout)
        self._drop(list(self._pending))

    async def flush_once(self) -> None:
        """Drain the aggregator and send every rollout's pending buckets; stop at the first
        store error."""
        async with self._lock:
            self._merge(self.aggregator.drain())
            self._count_dropped()
            try:
                for rollout in sorted({rollout for rollout, _ in self._pending}):
                    await self._send(rollout)
            except StoreError as exc:
                self._key = None  # read again once back: a store that lost its data gets a new one
                STORE_ERRORS.labels(exc.op or "subjects.add").inc()
                if not self._failing:
                    self._failing = True
                    log.warning("store unavailable, keeping subjects until it is back: %s", exc)
            else:
                if self._failing:
                    self._failing = False
                    log.info("store back: subjects flushed again")
            self._bound()

    async def _send(self, rollout: str) -> None:
        if self._key is None:
            self._key = await load_hash_key(self.documents)
        keys = [key for key in self._pending if key[0] == rollout]
        hashed = {}
        for key in keys:
            hashed[key[1]] = hash_subjects(self._key, self._pending[key])
            await asyncio.sleep(0)  # a backlog after an outage: requests go on between buckets
        await self.subjects.add(rollout, hashed)
        for key in keys:
            del self._pending[key]

    def _merge(self, drained: Bucketed) -> None:
        """Add what was drained to what is pending; a bucket kept through an outage holds at most
        the aggregator's `max_per_bucket` subjects, as a drained one does."""
        for key, subjects in drained.items():
            kept = self._pending.get(key)
            if kept is None:
                self._pending[key] = subjects
                continue
            new = subjects - kept
            room = max(self.aggregator.max_per_bucket - len(kept), 0)
            if len(new) > room:
                SUBJECTS_DROPPED.inc(len(new) - room)
                new = set(itertools.islice(new, room))
            kept |= new

    def _count_dropped(self) -> None:
        dropped, self.aggregator.dropped = self.aggregator.dropped, 0
        if dropped:
            SUBJECTS_DROPPED.inc(dropped)

    def _bound(self) -> None:
        """Keep the newest `max_pending` buckets of each rollout; drop the older ones."""
        if len(self._pending) <= self.max_pending:
            return  # the common case: nothing to count per rollout
        for rollout in {r for r, _ in self._pending}:
            buckets = sorted(b for r, b in self._pending if r == rollout)
            self._drop([(rollout, b) for b in buckets[: -self.max_pending]])

    def _drop(self, keys: list[tuple[str, int]]) -> None:
        subjects = sum(len(self._pending.pop(key)) for key in keys)
        if subjects:
            SUBJECTS_DROPPED.inc(subjects)
