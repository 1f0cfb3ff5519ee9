"""Sticky candidate assignments: a bounded local cache in front of the store.

Only candidate assignments are recorded (a baseline subject needs no record: the hash gives it
the baseline until the weight rises past it, which is exactly when it should move). The request
path never waits on a write: new candidates are queued and written once per flush, one
`put_arms` per scope. A lookup (needed only for subjects the weight has come down past) waits at
most for one store call, shared by every request that misses in the same event-loop turn.
The store sees digests of subjects, never the subjects
(rollout/targeting/cohorts.py `stored_subject`).
"""

from __future__ import annotations

import asyncio
from time import monotonic

from proxy.cohorts.store_guard import StoreGuard
from rollout.store import Assignments
from rollout.targeting.cohorts import stored_subject

_BASELINE = "baseline"


class StickyArms:
    def __init__(
        self,
        assignments: Assignments,
        guard: StoreGuard,
        max_entries: int = 200_000,
        cache_seconds: float = 600.0,
    ) -> None:
        self.assignments, self.guard = assignments, guard
        self.max_entries, self.cache_seconds = max_entries, cache_seconds
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}
        self._writes: dict[str, dict[str, str]] = {}  # scope -> subject -> arm, not yet stored
        self._ttls: dict[str, float] = {}
        self._lookups: dict[str, dict[str, asyncio.Future[str]]] = {}  # scope -> pending gets
        self._live_scopes: set[str] | None = None  # as of the last forget()

    def known(self, scope: str, subject: str) -> str | None:
        hit = self._cache.get((scope, subject))
        if hit is None or hit[1] < monotonic():
            return None
        return hit[0]

    def remember(self, scope: str, subject: str, arm: str, ttl_seconds: float) -> None:
        """Record that `subject` is on `arm` (written to the store at the next flush)."""
        key = (scope, subject)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == arm and hit[1] >= monotonic():
            return  # a returning subject: nothing to do
        self._cache_put(key, arm)
        self._writes.setdefault(scope, {})[subject] = arm
        self._ttls[scope] = ttl_seconds

    async def recall(self, scope: str, subject: str) -> str:
        """The arm the store remembers for `subject` (baseline when none, or store down)."""
        pending = self._lookups.get(scope)
        if pending is None:
            pending = self._lookups[scope] = {}
            asyncio.get_running_loop().call_soon(self._start_lookup, scope)
        future = pending.get(subject)
        if future is None:
            future = pending[subject] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(future)

    def _start_lookup(self, scope: str) -> None:
        batch = self._lookups.pop(scope)
        task = asyncio.get_running_loop().create_task(self._lookup(scope, batch))
        task.add_done_callback(_ignore)

    async def _lookup(self, scope: str, batch: dict[str, asyncio.Future[str]]) -> None:
        stored = {subject: stored_subject(scope, subject) for subject in batch}
        keys = list(stored.values())
        found = await self.guard.call(
            "assignments.get", lambda: self.assignments.get_arms(scope, keys)
        )
        for subject, future in batch.items():
            arm = found.get(stored[subject], _BASELINE) if found is not None else _BASELINE
            if found is not None:  # only cache what the store said, not an outage's guess
                self._cache_put((scope, subject), arm)
            if not future.done():
                future.set_result(arm)

    async def flush(self) -> None:
        """Write every queued assignment: one store call per scope. Kept for the next flush
        when the store is down (bounded by the cache size)."""
        writes, self._writes = self._writes, {}
        for scope, arms in writes.items():
            ttl = self._ttls[scope]
            stored = {stored_subject(scope, subject): arm for subject, arm in arms.items()}
            done = await self.guard.call(
                "assignments.put",
                lambda s=scope, a=stored, t=ttl: self.assignments.put_arms(s, a, t),
            )
            if done is None and not self.guard.up:
                self._requeue(scope, arms)

    def _requeue(self, scope: str, arms: dict[str, str]) -> None:
        queued = self._writes.setdefault(scope, {})
        if len(queued) < self.max_entries:
            for subject, arm in arms.items():
                queued.setdefault(subject, arm)

    def forget(self, keep_scopes: set[str]) -> None:
        """Drop cached and queued assignments of scopes no longer live (rollback, new version).
        Called on every state refresh: the cache (up to max_entries) is only walked when the
        live scopes changed, not every few seconds."""
        if keep_scopes == self._live_scopes:
            return
        self._live_scopes = set(keep_scopes)
        self._cache = {k: v for k, v in self._cache.items() if k[0] in keep_scopes}
        self._writes = {s: a for s, a in self._writes.items() if s in keep_scopes}

    def _cache_put(self, key: tuple[str, str], arm: str) -> None:
        cache = self._cache
        if len(cache) >= self.max_entries and key not in cache:
            del cache[next(iter(cache))]  # the oldest entry: insertion order
        cache[key] = (arm, monotonic() + self.cache_seconds)


def _ignore(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it; guard.call never raises
