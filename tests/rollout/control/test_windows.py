from __future__ import annotations

import pytest

from rollout.control.windows import CallSample, WindowAggregator, merge_fields
from rollout.stats.histogram import LogHistogram
from rollout.store import open_store


def test_counts_and_sums_per_arm_role_and_bucket() -> None:
    agg = WindowAggregator(bucket_seconds=10)
    agg.add("r", "candidate", "live", CallSample(duration=0.5, error="upstream_5xx"), now=101.0)
    agg.add("r", "candidate", "live", CallSample(duration=1.5, error="client_cancelled"), 102.0)
    ok = CallSample(
        duration=2.0, ttft=0.3, refusal=True, json_result="invalid_json",
        input_tokens=10, output_tokens=20, cost_usd=0.25, had_usage=True,
    )  # fmt: skip
    agg.add("r", "baseline", "live", ok, now=109.9)
    agg.add("r", "baseline", "live", CallSample(had_usage=True, output_tokens=5), now=110.0)
    out = agg.drain()
    assert sorted(out) == [("r", 100), ("r", 110)]
    first = out[("r", 100)]
    assert first["candidate:live:requests"] == 2
    assert first["candidate:live:errors"] == 1  # a client cancelling is not the arm's fault
    assert first["candidate:live:errors:upstream_5xx"] == 1
    assert first["candidate:live:errors:client_cancelled"] == 1
    assert first["baseline:live:refusals"] == 1
    assert first["baseline:live:json_invalid"] == 1
    assert first["baseline:live:cost_usd"] == 0.25
    assert first["baseline:live:priced"] == 1
    assert first["baseline:live:ttft:count"] == 1
    assert first["candidate:live:duration:count"] == 2
    assert out[("r", 110)]["baseline:live:unpriced"] == 1
    assert agg.drain() == {}


def test_replica_fields_add_up_to_the_merged_histogram() -> None:
    values_a, values_b = [0.1, 0.2, 0.4], [0.3, 5.0]
    replicas = []
    for values in (values_a, values_b):
        agg = WindowAggregator()
        for v in values:
            agg.add("r", "candidate", "live", CallSample(duration=v), now=0)
        replicas.append(agg.drain()[("r", 0)])
    merged = merge_fields(replicas)
    hist = LogHistogram.from_fields("candidate:live:duration", merged)
    expected = LogHistogram()
    for v in values_a + values_b:
        expected.add(v)
    assert merged["candidate:live:requests"] == 5
    assert hist.count == 5
    assert hist.quantile(0.5) == expected.quantile(0.5)
    assert hist.quantile(0.5) == pytest.approx(0.3, rel=0.02)


async def test_drained_fields_round_trip_through_the_store(tmp_path) -> None:
    store = open_store(None, tmp_path)
    agg = WindowAggregator()
    for _ in range(3):
        agg.add("r", "candidate", "live", CallSample(duration=0.2), now=50)
    for (rollout, bucket), fields in agg.drain().items():
        await store.metrics.add(rollout, bucket, fields)
    stored = await store.metrics.read("r", 0, 100)
    assert stored[50]["candidate:live:requests"] == 3
    assert LogHistogram.from_fields("candidate:live:duration", stored[50]).count == 3
    await store.close()
