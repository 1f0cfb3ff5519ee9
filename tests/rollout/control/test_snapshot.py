"""Snapshots from metric-window fields, as the aggregator writes them and the store adds them."""

from __future__ import annotations

from rollout.control.snapshot import arm_snapshot, window_snapshot
from rollout.control.windows import CallSample, WindowAggregator


def _buckets() -> list[dict[str, float]]:
    agg = WindowAggregator(bucket_seconds=10)
    calls = [
        (
            "candidate",
            "live",
            CallSample(
                duration=0.5,
                ttft=0.1,
                had_usage=True,
                cost_usd=0.002,
                input_tokens=10,
                output_tokens=5,
                json_result="valid",
            ),
            0,
        ),
        ("candidate", "live", CallSample(duration=1.0, error="upstream_5xx"), 1),
        ("candidate", "live", CallSample(error="client_cancelled"), 2),
        (
            "candidate",
            "live",
            CallSample(
                duration=2.0, refusal=True, json_result="invalid", had_usage=True, input_tokens=3
            ),
            12,
        ),
        ("candidate", "live", CallSample(duration=0.7, had_usage=True, cost_usd=0.004), 15),
        ("baseline", "live", CallSample(duration=0.4), 3),
        ("candidate", "shadow", CallSample(duration=0.9, error="timeout"), 4),
    ]
    for arm, role, sample, now in calls:
        agg.add("r", arm, role, sample, now)
    drained = agg.drain()
    return [drained[("r", 0)], drained[("r", 10)]]


def test_window_snapshot_counts_every_field() -> None:
    snap = window_snapshot(_buckets(), subjects=7)
    c = snap.candidate
    # 5 calls, one cancelled by the client: 4 judged, 1 error (the cancel is nobody's fault)
    assert (c.requests, c.errors, c.refusals) == (4, 1, 1)
    assert (c.json_checks, c.json_invalid, c.json_valid) == (2, 1, 1)
    assert (c.input_tokens, c.output_tokens) == (13, 5)
    assert (c.priced, c.unpriced) == (2, 1)
    assert abs(c.cost_usd - 0.006) < 1e-12
    assert c.errors_by_kind == {"upstream_5xx": 1, "client_cancelled": 1}
    assert c.duration.count == 4 and c.ttft.count == 1
    assert abs(c.duration.sum - 4.2) < 1e-9
    # one batch per bucket with priced calls
    assert c.cost_batches == ((1, 0.002), (1, 0.004))
    assert snap.baseline.requests == 1 and snap.baseline.duration.count == 1
    assert snap.shadow.requests == 1 and snap.shadow.errors_by_kind == {"timeout": 1}
    assert snap.subjects == 7


def test_empty_window_is_all_zero() -> None:
    snap = window_snapshot([])
    assert snap.candidate.requests == 0 and snap.candidate.duration.count == 0
    assert snap.candidate.cost_batches == () and snap.subjects is None


def test_arm_snapshot_reads_store_values_and_ignores_other_prefixes() -> None:
    fields = {
        "candidate:live:requests": 3.0,
        "candidate:live:errors": 2.0,
        "candidate:live:errors:client_cancelled": 1.0,
        "candidate:liveish:requests": 99.0,
        "candidate:live:duration:b:10": 2.0,
        "candidate:live:duration:sum": 2.4,
    }
    snap = arm_snapshot(fields, "candidate", "live")
    assert (snap.requests, snap.errors) == (2, 2)
    assert snap.duration.count == 2 and snap.cost_batches == ()


def test_cancellations_never_make_requests_negative() -> None:
    fields = {"baseline:live:requests": 1.0, "baseline:live:errors:client_cancelled": 3.0}
    assert arm_snapshot(fields, "baseline", "live").requests == 0


def test_shadow_pairs_and_noise_pairs_are_read_per_comparator() -> None:
    buckets = [
        {"candidate:shadow:pairs:text": 3, "candidate:shadow:disagree:text": 1},
        {
            "candidate:shadow:pairs:text": 2,
            "baseline:noise:pairs:text": 4,
            "baseline:live:requests": 9,
        },
    ]
    snap = window_snapshot(buckets)
    assert (snap.shadow.count("pairs:text"), snap.shadow.count("disagree:text")) == (5, 1)
    assert (snap.noise.count("pairs:text"), snap.noise.count("disagree:text")) == (4, 0)
    assert snap.noise.count("pairs:json") == 0 and snap.baseline.pairs == {}


def test_the_noise_arm_is_the_second_baseline_calls_with_their_pairs() -> None:
    # a noise call is a shadow exchange of the baseline arm ("baseline:shadow"); its comparison
    # with the live answer is counted under "baseline:noise"
    bucket = {
        "baseline:shadow:requests": 40.0,
        "baseline:shadow:errors": 2.0,
        "baseline:noise:pairs:error": 40.0,
        "baseline:noise:disagree:error": 3.0,
        "candidate:shadow:requests": 80.0,
    }
    snap = window_snapshot([bucket])
    assert (snap.noise.requests, snap.noise.errors) == (40, 2)
    assert (snap.noise.pairs, snap.noise.disagree) == ({"error": 40}, {"error": 3})
    assert snap.shadow.requests == 80 and snap.baseline.requests == 0
