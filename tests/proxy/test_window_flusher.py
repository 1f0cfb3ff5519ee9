"""Metric windows from Record to the store: the real proxy pipeline, the embedded store, and a
real redis-server that is killed or hung (SIGSTOP) while the flusher keeps going."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from prometheus_client import REGISTRY

from proxy.app import Proxy
from proxy.exchange import Exchange
from proxy.metrics import ArmMetricsCache
from proxy.observe.base import Observation
from proxy.pipeline import Pipeline
from proxy.stages.forward import Forward
from proxy.stages.identify import Identify
from proxy.stages.observe import Conclude, Observe
from proxy.stages.parse import Parse
from proxy.stages.record import Record
from proxy.window_flusher import WindowFlusher
from rollout.config import parse_config
from rollout.control.windows import CallSample, WindowAggregator, merge_fields
from rollout.quality.pricing import default_price_table
from rollout.quality.refusal import RefusalDetector
from rollout.quality.usage import Usage
from rollout.store import Store, open_store
from rollout.store.base import MetricWindows
from tests.support.proxy import openai_config
from tests.support.redis_server import RedisServer
from tests.support.servers import RunningServer, on_loopback
from tests.support.until import until

OUT = 7  # output tokens of every synthetic call


@pytest.fixture  # own_redis: tests/conftest.py
async def redis_store(own_redis: RedisServer, tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store(own_redis.url, tmp_path, timeout=0.25)
    yield store
    own_redis.resume()
    await store.close()


class CountingWindows:
    """The store's MetricWindows, counting the adds it is asked for."""

    def __init__(self, inner: MetricWindows) -> None:
        self.inner, self.adds = inner, []

    async def add(self, rollout: str, bucket_start: int, fields: dict[str, float]) -> None:
        self.adds.append((rollout, bucket_start))
        await self.inner.add(rollout, bucket_start, fields)


class CountingAggregator(WindowAggregator):
    added = 0

    def add(self, rollout: str, arm: str, role: str, sample: CallSample, now: float) -> None:
        self.added += 1
        super().add(rollout, arm, role, sample, now)


class Govern:
    """Stands in for the rollout stages: rollout r1, arm from a test header."""

    name = "govern"

    async def __call__(self, ex: Exchange) -> None:
        ex.rollout, ex.arm = "r1", ex.headers.get("x-test-arm", "baseline")


@asynccontextmanager
async def governed_proxy(upstream: str, agg: WindowAggregator) -> AsyncIterator[str]:
    """The real stages with Record feeding `agg`, served on loopback in this test's loop."""
    config = parse_config(openai_config(upstream), "test.yaml")
    proxy, limit = Proxy(config, {}), config.limits.max_body_bytes
    pipeline = Pipeline(
        before=[Parse(limit), Identify(), Govern(), Observe({})],
        forward=Forward(limit),
        after=[Conclude(RefusalDetector(), default_price_table()), Record(ArmMetricsCache(), agg)],
    )
    proxy.generation = replace(proxy.generation, pipeline=pipeline)
    await proxy.start()
    try:
        async with on_loopback(proxy.server()) as url:
            yield url
    finally:
        await proxy.close()


async def stored(store: Store, rollout: str = "r") -> dict[str, float]:
    now = int(time.time())
    return merge_fields(list((await store.metrics.read(rollout, now - 3600, now + 60)).values()))


def counter(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def store_errors() -> float:
    return counter("llm_rollout_store_errors_total", {"op": "metrics.add"})


def dropped() -> float:
    return counter("llm_rollout_window_fields_dropped_total")


async def record_calls(record: Record, n: int, rollout: str = "r") -> None:
    """n finished candidate calls through Record, as the pipeline would hand them over."""
    for _ in range(n):
        ex = Exchange(request=make_mocked_request("POST", "/v1/chat/completions"), candidates=[])
        ex.upstream = SimpleNamespace(name="up")  # type: ignore[assignment]
        ex.rollout, ex.arm, ex.model, ex.status = rollout, "candidate", "gpt-4o-mini", 200
        ex.finished_at = ex.started + 0.2
        ex.observation = Observation(usage=Usage(input_tokens=3, output_tokens=OUT))
        await record(ex)


async def test_calls_through_record_reach_the_store_with_their_fields(
    fake: RunningServer, tmp_path: Path
) -> None:
    store = open_store(None, tmp_path)
    agg, windows = CountingAggregator(), CountingWindows(store.metrics)
    flusher = WindowFlusher(windows, agg)
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there you"}]}
    stream = {**chat, "stream": True, "stream_options": {"include_usage": True}}
    async with governed_proxy(fake.url, agg) as url, aiohttp.ClientSession() as http:
        url += "/v1/chat/completions"
        async with http.post(url, json=chat) as resp:
            usage = (await resp.json())["usage"]
        async with http.post(url, json=chat, headers={"x-fake-refuse": "1"}) as resp:
            assert resp.status == 200
        async with http.post(url, json=stream, headers={"x-test-arm": "candidate"}) as resp:
            events = [line for line in (await resp.text()).splitlines() if line]
        stream_usage = next(e for e in events if '"usage":{' in e)
        bad = {"x-test-arm": "candidate", "x-fake-error-status": "503"}
        async with http.post(url, json=chat, headers=bad) as resp:
            assert resp.status == 503
        await until(lambda: agg.added == 4)  # Record runs once the client has its answer
    await flusher.flush_once()
    fields = await stored(store, "r1")
    assert sorted(windows.adds) == sorted(set(windows.adds))  # one add per bucket, not per call
    assert len(windows.adds) in (1, 2)  # 2 when the calls straddled a bucket boundary
    assert fields["baseline:live:requests"] == 2
    assert fields["baseline:live:refusals"] == 1
    assert fields["baseline:live:input_tokens"] == 2 * usage["prompt_tokens"]
    assert fields["baseline:live:output_tokens"] > usage["completion_tokens"]
    assert fields["baseline:live:priced"] == 2 and fields["baseline:live:cost_usd"] > 0
    assert fields["baseline:live:duration:count"] == 2
    assert "baseline:live:ttft:count" not in fields  # time to first token: streams only
    assert fields["candidate:live:requests"] == 2
    assert fields["candidate:live:errors"] == fields["candidate:live:errors:upstream_5xx"] == 1
    assert fields["candidate:live:ttft:count"] == 1
    assert f'"completion_tokens":{int(fields["candidate:live:output_tokens"])},' in stream_usage
    assert "baseline:live:errors" not in fields
    await store.close()


async def test_record_adds_nothing_when_no_rollout_governs() -> None:
    agg = WindowAggregator()
    record = Record(ArmMetricsCache(), agg)
    await record_calls(record, 3, rollout="")
    assert agg.drain() == {}
    await record_calls(record, 1, rollout="r")  # the same call, governed, is counted
    assert [f["candidate:live:requests"] for f in agg.drain().values()] == [1]


async def test_killed_redis_loses_nothing_once_back(
    own_redis: RedisServer, redis_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    agg = WindowAggregator()
    record, flusher = Record(ArmMetricsCache(), agg), WindowFlusher(redis_store.metrics, agg, 0.05)
    errors_before = store_errors()
    own_redis.kill()
    flusher.start()
    for _ in range(4):  # calls keep coming while the flusher fails, interval after interval
        await record_calls(record, 3)
        await asyncio.sleep(0.3)
    assert flusher.pending >= 1
    assert store_errors() >= errors_before + 3
    own_redis.start()  # back on the same port, empty
    await until(lambda: flusher.pending == 0)
    await flusher.stop()
    fields = await stored(redis_store)
    assert fields["candidate:live:requests"] == 12
    assert fields["candidate:live:duration:count"] == 12
    assert fields["candidate:live:output_tokens"] == 12 * OUT
    warnings = [r for r in caplog.records if r.name == "llm_rollout.windows" and r.levelno >= 30]
    assert len(warnings) == 1, warnings  # one outage, one warning


async def test_hung_redis_loses_nothing_once_resumed(
    own_redis: RedisServer, redis_store: Store
) -> None:
    agg = WindowAggregator()
    record, flusher = Record(ArmMetricsCache(), agg), WindowFlusher(redis_store.metrics, agg)
    await record_calls(record, 2)
    await flusher.flush_once()
    own_redis.pause()
    await record_calls(record, 5)
    await flusher.flush_once()  # times out; the command may sit in Redis's socket buffer
    await record_calls(record, 7)
    await flusher.flush_once()
    assert flusher.pending >= 1
    own_redis.resume()
    await until(lambda: _flushed(flusher))
    requests = (await stored(redis_store))["candidate:live:requests"]
    # At least once: nothing lost; the one add that timed out on a live connection may have
    # been applied when Redis woke up, and was sent again (its 5 calls counted twice).
    assert 2 + 5 + 7 <= requests <= 2 + 5 + 7 + 5


async def _flushed(flusher: WindowFlusher) -> bool:
    await flusher.flush_once()
    return flusher.pending == 0


async def test_buckets_beyond_the_bound_are_dropped_oldest_first_and_counted(
    own_redis: RedisServer, redis_store: Store
) -> None:
    agg = WindowAggregator(bucket_seconds=10)
    flusher = WindowFlusher(redis_store.metrics, agg, max_pending=3)
    sample = CallSample(duration=0.1, had_usage=True, output_tokens=OUT)
    now = int(time.time()) // 10 * 10
    starts = [now - 40, now - 30, now - 20, now - 10, now]
    probe = WindowAggregator(bucket_seconds=10)
    probe.add("r", "candidate", "live", sample, now=now)
    per_bucket = len(probe.drain()[("r", now)])
    for start in starts:
        agg.add("r", "candidate", "live", sample, now=start)
    agg.add("other", "candidate", "live", sample, now=now - 40)  # its own rollout: its own bound
    before = dropped()
    own_redis.kill()
    await flusher.flush_once()
    assert flusher.pending == 3 + 1
    assert dropped() == before + 2 * per_bucket
    own_redis.start()
    await until(lambda: _flushed(flusher))
    kept = await redis_store.metrics.read("r", now - 3600, now + 60)
    assert sorted(kept) == starts[2:]
    assert list(await redis_store.metrics.read("other", now - 3600, now + 60)) == [now - 40]


async def test_stop_sends_what_is_left(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    agg = WindowAggregator()
    flusher = WindowFlusher(store.metrics, agg, interval=60)
    flusher.start()
    await record_calls(Record(ArmMetricsCache(), agg), 4)
    await flusher.stop()
    assert (await stored(store))["candidate:live:requests"] == 4
    await store.close()


async def test_stop_gives_up_after_its_timeout_on_a_hung_store(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    store = open_store(own_redis.url, tmp_path, timeout=5.0)  # longer than stop's own bound
    agg = WindowAggregator()
    flusher = WindowFlusher(store.metrics, agg, interval=60, stop_timeout=0.3)
    flusher.start()
    await record_calls(Record(ArmMetricsCache(), agg), 4)
    own_redis.pause()
    before, started = dropped(), time.monotonic()
    await flusher.stop()
    assert time.monotonic() - started < 1.0
    assert flusher.pending == 0 and dropped() > before  # counted, not silently forgotten
    own_redis.resume()
    await store.close()


async def test_the_proxy_buckets_its_windows_as_the_store_config_says(tmp_path: Path) -> None:
    extra = (
        f"store: {{data_dir: '{tmp_path}', window_bucket_seconds: 2}}\n"
        "rollouts: [{name: r, candidate: {model: m}}]"
    )
    proxy = Proxy(parse_config(openai_config("http://127.0.0.1:9", extra), "test.yaml"), {})
    assert proxy.windows is not None and proxy.flusher is not None and proxy.runtime is not None
    assert proxy.windows.bucket_seconds == 2
    assert proxy.flusher.max_pending == 300  # an outage of 10 minutes, in 2 s buckets
    await proxy.runtime.store.close()
