"""Distinct candidate subjects from the real proxy to a real Redis: counted once per subject
however often it calls, only on the candidate, hashed before they leave the process; and kept
through a Redis outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from proxy.subject_flusher import SubjectFlusher
from rollout.control.subject_counts import SubjectAggregator, hash_subject, load_hash_key
from rollout.store import Store, open_store
from tests.support.proxy import openai_config, serve_proxy
from tests.support.redis_server import RedisServer
from tests.support.servers import RunningServer
from tests.support.until import until

ROLLOUT = """
store: {{redis_url: "{url}", key_prefix: "subj:"}}
rollouts:
  - name: r
    weight: 1.0
    candidate: {{model: cand}}
    subject: [header:x-user]
    overrides: [{{match: {{headers: {{x-arm: baseline}}}}, arm: baseline}}]
"""


async def pfadd_arguments(redis: Redis, seen: list[str]) -> None:
    """Every PFADD Redis runs, as its arguments (MONITOR), until cancelled."""
    async with redis.monitor() as monitor:
        async for command in monitor.listen():
            words = command["command"].split(" ")
            if words[0].upper() == "PFADD":
                seen.extend(words[2:])


@pytest.fixture
async def store(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(redis_server.url, tmp_path, key_prefix="subj:", timeout=2.0)
    yield opened
    await opened.close()


async def test_candidate_subjects_reach_redis_hashed_and_counted_once(
    fake: RunningServer, redis_server: RedisServer, store: Store
) -> None:
    redis = Redis.from_url(redis_server.url)
    added: list[str] = []
    watching = asyncio.create_task(pfadd_arguments(redis, added))
    await asyncio.sleep(0.2)  # MONITOR in place before the first call
    config = openai_config(fake.url, ROLLOUT.format(url=redis_server.url))
    with serve_proxy(config) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key="sk", max_retries=0)

        def call(user: str, **headers: str) -> None:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-user": user, **headers},
            )

        for _ in range(3):
            for n in range(5):
                await asyncio.to_thread(call, f"user-{n}@example.com")
        for n in range(5, 8):  # pinned to the baseline: not candidate subjects
            await asyncio.to_thread(call, f"user-{n}@example.com", **{"x-arm": "baseline"})
        await until(lambda: _counted(store, 5), seconds=5)
    watching.cancel()
    await redis.aclose()
    key = await load_hash_key(store.documents)
    hashes = {hash_subject(key, f"user-{n}@example.com") for n in range(5)}
    assert set(added) == hashes  # the flusher sent the keyed hashes, nothing else
    assert not any("example.com" in word for word in added)
    assert await store.subjects.count("r", int(time.time()) - 3600) == 5


async def _counted(store: Store, n: int) -> bool:
    return await store.subjects.count("r", 0) == n


async def test_a_redis_outage_loses_no_subject(own_redis: RedisServer, tmp_path: Path) -> None:
    store = open_store(own_redis.url, tmp_path, timeout=0.25)
    agg = SubjectAggregator(bucket_seconds=10)
    flusher = SubjectFlusher(store.documents, store.subjects, agg, interval=0.05)
    now = time.time()
    agg.add("r", "early", now)
    await flusher.flush_once()  # the key is made and kept
    own_redis.kill()
    flusher.start()
    for n in range(4):  # subjects keep coming while the flusher fails
        agg.add("r", f"u{n}", now)
        agg.add("r", "early", now)
        await asyncio.sleep(0.2)
    assert flusher.pending >= 1
    own_redis.start()  # back on the same port, empty: the key document is gone too
    await until(lambda: flusher.pending == 0)
    await flusher.stop()
    # The key is read again after an outage: the emptied store got a new one, which every
    # replica now shares, and what was pending went out under it.
    assert (await store.documents.read("subjects/hash_key"))[0] is not None
    assert await store.subjects.count("r", 0) == 5
    await store.close()


async def test_buckets_beyond_the_bound_are_dropped_oldest_first(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    store = open_store(own_redis.url, tmp_path, timeout=0.25)
    agg = SubjectAggregator(bucket_seconds=10)
    flusher = SubjectFlusher(store.documents, store.subjects, agg, max_pending=2)
    now = int(time.time()) // 10 * 10
    for age, subject in [(30, "a"), (20, "b"), (10, "c"), (0, "d")]:
        agg.add("r", subject, now - age)
    own_redis.kill()
    await flusher.flush_once()
    assert flusher.pending == 2
    own_redis.start()
    await flusher.flush_once()
    assert flusher.pending == 0
    assert await store.subjects.count("r", 0) == 2  # c and d
    assert await store.subjects.count("r", now - 10) == 2
    await store.close()


async def test_a_bucket_kept_through_an_outage_stays_bounded(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    store = open_store(own_redis.url, tmp_path, timeout=0.25)
    agg = SubjectAggregator(bucket_seconds=10, max_per_bucket=2)
    flusher = SubjectFlusher(store.documents, store.subjects, agg)
    now = time.time()
    before = dropped()
    own_redis.kill()
    for subjects in (["a", "b"], ["a", "c"], ["d"]):  # one drain each, all in one bucket
        for subject in subjects:
            agg.add("r", subject, now)
        await flusher.flush_once()
    assert flusher.pending == 1
    assert dropped() == before + 2  # c and d: the bucket already held two
    own_redis.start()
    await flusher.flush_once()
    assert await store.subjects.count("r", 0) == 2
    await store.close()


def dropped() -> float:
    return REGISTRY.get_sample_value("llm_rollout_subjects_dropped_total") or 0.0
