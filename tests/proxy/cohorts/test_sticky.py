"""Sticky assignments against real stores: batched writes, shared lookups, Redis failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.cohorts.sticky import StickyArms
from proxy.cohorts.store_guard import StoreGuard
from rollout.store import Store, open_store
from rollout.targeting.cohorts import stored_subject
from tests.support.redis_server import RedisServer


class CountingAssignments:
    """Wraps a real store's assignments to count the calls that reach it."""

    def __init__(self, inner: object) -> None:
        self.inner, self.gets, self.puts = inner, 0, 0

    async def get_arms(self, scope: str, subjects: list[str]) -> dict[str, str]:
        self.gets += 1
        return await self.inner.get_arms(scope, subjects)  # type: ignore[attr-defined]

    async def put_arms(self, scope: str, arms: dict[str, str], ttl: float) -> None:
        self.puts += 1
        await self.inner.put_arms(scope, arms, ttl)  # type: ignore[attr-defined]

    async def clear_arms(self, scope: str) -> None:
        await self.inner.clear_arms(scope)  # type: ignore[attr-defined]


@pytest.fixture(params=["embedded", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    opened = open_store(url, tmp_path / "data", key_prefix=f"sticky-{id(tmp_path)}:", timeout=2.0)
    yield opened
    await opened.close()


async def test_writes_are_batched_per_scope_and_returning_subjects_cost_nothing(
    store: Store,
) -> None:
    counting = CountingAssignments(store.assignments)
    sticky = StickyArms(counting, StoreGuard())  # type: ignore[arg-type]
    for round_ in range(3):  # the same 100 subjects come back three times
        for i in range(100):
            sticky.remember("r:v1:0", f"user-{i}", "candidate", 60)
        await sticky.flush()
        assert counting.puts == 1, round_
    keys = [stored_subject("r:v1:0", s) for s in ("user-0", "user-99")]
    assert await store.assignments.get_arms("r:v1:0", keys) == dict.fromkeys(keys, "candidate")
    assert await store.assignments.get_arms("r:v1:0", ["user-0"]) == {}  # never the raw id


async def test_concurrent_misses_share_one_lookup_and_are_cached(store: Store) -> None:
    await store.assignments.put_arms("r:v1:0", {stored_subject("r:v1:0", "a"): "candidate"}, 60)
    counting = CountingAssignments(store.assignments)
    sticky = StickyArms(counting, StoreGuard())  # type: ignore[arg-type]
    arms = await asyncio.gather(*(sticky.recall("r:v1:0", s) for s in ["a", "b", "a", "c"]))
    assert arms == ["candidate", "baseline", "candidate", "baseline"]
    assert counting.gets == 1
    assert sticky.known("r:v1:0", "a") == "candidate"
    assert sticky.known("r:v1:0", "b") == "baseline"
    assert sticky.known("r:v1:0", "zzz") is None


async def test_cache_is_bounded() -> None:
    sticky = StickyArms(CountingAssignments(None), StoreGuard(), max_entries=10)  # type: ignore[arg-type]
    for i in range(25):
        sticky.remember("s", f"u{i}", "candidate", 60)
    assert sticky.known("s", "u24") == "candidate"
    assert sticky.known("s", "u0") is None  # evicted, oldest first
    assert sum(sticky.known("s", f"u{i}") is not None for i in range(25)) == 10


async def test_forget_drops_dead_scopes() -> None:
    sticky = StickyArms(CountingAssignments(None), StoreGuard())  # type: ignore[arg-type]
    sticky.remember("r:v1:0", "u", "candidate", 60)
    sticky.remember("r:v1:1", "u", "candidate", 60)
    sticky.forget({"r:v1:1"})
    assert sticky.known("r:v1:0", "u") is None
    assert sticky.known("r:v1:1", "u") == "candidate"


async def test_redis_down_lookups_answer_baseline_fast_and_writes_wait(
    own_redis: RedisServer,
) -> None:
    store = open_store(own_redis.url, "unused", timeout=0.2)
    try:
        guard = StoreGuard(first_backoff=0.2)
        sticky = StickyArms(store.assignments, guard)
        sticky.remember("r:v1:0", "early", "candidate", 60)
        own_redis.kill()
        await sticky.flush()  # fails: kept for later
        assert not guard.up
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await sticky.recall("r:v1:0", "someone") == "baseline"
        assert loop.time() - started < 0.25  # skipped while down: no timeout paid
        assert sticky.known("r:v1:0", "someone") is None  # an outage's guess is not cached
        own_redis.start()
        await asyncio.sleep(0.25)  # past the back-off
        await sticky.flush()
        assert guard.up
        early = stored_subject("r:v1:0", "early")
        assert await store.assignments.get_arms("r:v1:0", [early]) == {early: "candidate"}
    finally:
        await store.close()


async def test_paused_redis_costs_at_most_the_store_timeout(own_redis: RedisServer) -> None:
    store = open_store(own_redis.url, "unused", timeout=0.2)
    try:
        sticky = StickyArms(store.assignments, StoreGuard())
        await store.ping()
        own_redis.pause()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await sticky.recall("r:v1:0", "someone") == "baseline"
        assert loop.time() - started < 0.5
    finally:
        own_redis.resume()
        await store.close()
