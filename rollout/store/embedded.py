"""The embedded store: one process, no server. The default when no Redis URL is configured.

Documents, the audit log (embedded_files.py), shadow pairs (embedded_pairs.py) and sticky
assignments (embedded_assignments.py) persist under the data directory, so a restart loses
nothing that matters. Metric windows, distinct-subject counts (embedded_subjects.py), leader
locks and subscriptions live in memory: after a restart metric windows and subject counts
refill, and the one process is trivially the leader. The data directory is locked (flock) so
that a second process cannot open it at the same time.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import defaultdict
from pathlib import Path

import orjson

from rollout.errors import StoreError
from rollout.store.base import (
    Doc,
    Store,
    Subscription,
    check_fields,
    ttl_ms,
)
from rollout.store.embedded_assignments import FileAssignments
from rollout.store.embedded_files import FileAuditLog, FileDocuments
from rollout.store.embedded_pairs import FilePairs
from rollout.store.embedded_subjects import MemorySubjects
from rollout.store.subscription import QueueSubscription

_SWEEP_EVERY = 10.0  # seconds between sweeps of expired in-memory entries


class MemoryMetrics:
    def __init__(self, retention: float) -> None:
        self._retention = retention
        self._rollouts: dict[str, dict[int, tuple[dict[str, float], float]]] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY

    async def add(self, rollout: str, bucket_start: int, fields: dict[str, float]) -> None:
        check_fields(fields)
        if not fields:
            return
        now = time.monotonic()
        buckets = self._rollouts.setdefault(rollout, {})
        old = buckets.get(bucket_start)
        totals = dict(old[0]) if old is not None and old[1] > now else {}
        for name, value in fields.items():
            totals[name] = totals.get(name, 0.0) + float(value)
        buckets[bucket_start] = (totals, now + self._retention)
        if now >= self._next_sweep:
            self._sweep(now)

    async def read(self, rollout: str, start: int, end: int) -> dict[int, dict[str, float]]:
        now = time.monotonic()
        return {
            bucket: dict(totals)
            for bucket, (totals, expires) in sorted(self._rollouts.get(rollout, {}).items())
            if start <= bucket < end and expires > now
        }

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + _SWEEP_EVERY
        for rollout, buckets in list(self._rollouts.items()):
            for bucket in [b for b, (_, expires) in buckets.items() if expires <= now]:
                del buckets[bucket]
            if not buckets:
                del self._rollouts[rollout]


class MemoryLeader:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        held = self._held.get(name)
        if held is not None and held[1] > now and held[0] != owner:
            return False
        self._held[name] = (owner, now + ttl_ms(ttl_seconds) / 1000)
        return True

    async def release(self, name: str, owner: str) -> bool:
        held = self._held.get(name)
        if held is None or held[0] != owner or held[1] <= time.monotonic():
            return False
        del self._held[name]
        return True


class LocalNotifications:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._subscribers: defaultdict[str, set[_LocalSubscription]] = defaultdict(set)

    async def publish(self, channel: str, message: Doc) -> None:
        data = orjson.dumps(message)
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber._deliver(orjson.loads(data))  # each gets its own copy

    def subscribe(self, channel: str) -> Subscription:
        return _LocalSubscription(self, channel)

    def close(self) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber._deliver_close()
        self._subscribers.clear()


class _LocalSubscription(QueueSubscription):
    def __init__(self, hub: LocalNotifications, channel: str) -> None:
        super().__init__(channel, timeout=hub._timeout)
        self._hub = hub

    async def _start(self) -> None:
        self._hub._subscribers[self.channel].add(self)
        self._set_ready()

    async def _stop(self) -> None:
        self._hub._subscribers.get(self.channel, set()).discard(self)

    def _deliver_close(self) -> None:
        self._closed = True
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class EmbeddedStore(Store):
    kind = "embedded"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        timeout: float = 0.25,
        metrics_retention: float = 24 * 3600,
        audit_keep: int = 100_000,
    ) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock_dir(self.data_dir)
            try:
                self.documents = FileDocuments(self.data_dir)
                self.audit = self._audit = FileAuditLog(self.data_dir, keep=audit_keep)
                self.assignments = self._assignments = FileAssignments(self.data_dir)
                self.pairs = FilePairs(self.data_dir)
            except BaseException:
                os.close(self._lock_fd)
                raise
        except OSError as exc:
            raise StoreError(f"cannot open data directory {self.data_dir}: {exc}") from exc
        self.metrics = MemoryMetrics(metrics_retention)
        self.subjects = MemorySubjects(metrics_retention)
        self.leader = MemoryLeader()
        self.notifications = self._hub = LocalNotifications(timeout)
        self._closed = False

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub.close()
        self._audit.close()
        self._assignments.close()
        os.close(self._lock_fd)  # releases the flock


def _lock_dir(data_dir: Path) -> int:
    fd = os.open(data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StoreError(f"data directory {data_dir} is in use by another store") from exc
    return fd
