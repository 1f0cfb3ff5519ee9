"""Metric windows for the controller: what each proxy replica saw per (rollout, arm, role), in
time buckets of named numbers that add up across replicas.

A replica adds every finished call to an in-memory aggregate and drains it once per flush
interval into the store (`store.metrics.add(rollout, bucket_start, fields)`: one round trip per
rollout and bucket, never one per request). Every field is a count or a sum, so the store merges
replicas by adding, and the controller can read any window by adding buckets. Latencies are
`LogHistogram` fields (2% relative error on quantiles, mergeable).

Field names: "{arm}:{role}:{name}", e.g. "candidate:live:requests",
"candidate:live:errors:upstream_5xx", "baseline:shadow:duration:b:212".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rollout.config.rollouts import DEFAULT_BUCKET_SECONDS
from rollout.stats.histogram import LogHistogram


@dataclass(slots=True)
class CallSample:
    """One finished call, as the windows need it."""

    duration: float | None = None
    ttft: float | None = None
    error: str | None = None  # an error kind; "client_cancelled" is not the arm's fault
    refusal: bool = False
    json_result: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    had_usage: bool = False


class _Arm:
    __slots__ = ("duration", "numbers", "ttft")

    def __init__(self) -> None:
        self.numbers: dict[str, float] = defaultdict(float)
        self.duration = LogHistogram()
        self.ttft = LogHistogram()


class WindowAggregator:
    def __init__(self, bucket_seconds: int = DEFAULT_BUCKET_SECONDS) -> None:
        self.bucket_seconds = bucket_seconds
        self._arms: dict[tuple[str, int, str, str], _Arm] = {}

    def add(self, rollout: str, arm: str, role: str, sample: CallSample, now: float) -> None:
        agg = self._arm(rollout, arm, role, now)
        n = agg.numbers
        n["requests"] += 1
        if sample.error is not None:
            n[f"errors:{sample.error}"] += 1
            if sample.error != "client_cancelled":
                n["errors"] += 1
        if sample.refusal:
            n["refusals"] += 1
        if sample.json_result is not None:
            n["json_checks"] += 1
            if sample.json_result != "valid":
                n["json_invalid"] += 1
        if sample.had_usage:
            n["input_tokens"] += sample.input_tokens
            n["output_tokens"] += sample.output_tokens
            if sample.cost_usd is None:
                n["unpriced"] += 1
            else:
                n["priced"] += 1
                n["cost_usd"] += sample.cost_usd
        if sample.duration is not None:
            agg.duration.add(sample.duration)
        if sample.ttft is not None:
            agg.ttft.add(sample.ttft)

    def add_pair(
        self, rollout: str, arm: str, role: str, disagreements: dict[str, bool], now: float
    ) -> None:
        """Count one compared shadow pair (rollout/quality/compare.py `disagreements`) as
        `pairs:{comparator}` and `disagree:{comparator}`, the fields rollout/quality/noise.py
        reads."""
        n = self._arm(rollout, arm, role, now).numbers
        for comparator, differs in disagreements.items():
            n[f"pairs:{comparator}"] += 1
            if differs:
                n[f"disagree:{comparator}"] += 1

    def add_score(
        self,
        rollout: str,
        arm: str,
        role: str,
        scorer: str,
        value: float,
        error: bool,
        now: float,
    ) -> None:
        """One answer scored online: `score_sum:{scorer}` adds the score's gate value (a judge
        error adds 0, as offline), `score_count:{scorer}` counts it."""
        n = self._arm(rollout, arm, role, now).numbers
        n[f"score_count:{scorer}"] += 1
        n[f"score_sum:{scorer}"] += value
        if error:
            n[f"score_errors:{scorer}"] += 1

    def add_scoring_cost(self, rollout: str, usd: float, now: float) -> None:
        """What online scoring's judges cost, as `judge:scoring:score_cost_usd`: every
        process's spend, for the shared budget (proxy/shadow/budget_sync.py)."""
        self._arm(rollout, "judge", "scoring", now).numbers["score_cost_usd"] += usd

    def _arm(self, rollout: str, arm: str, role: str, now: float) -> _Arm:
        bucket = int(now // self.bucket_seconds) * self.bucket_seconds
        key = (rollout, bucket, arm, role)
        agg = self._arms.get(key)
        if agg is None:
            agg = self._arms[key] = _Arm()
        return agg

    def drain(self) -> dict[tuple[str, int], dict[str, float]]:
        """Everything added since the last drain, as {(rollout, bucket_start): fields}."""
        arms, self._arms = self._arms, {}
        out: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
        for (rollout, bucket, arm, role), agg in arms.items():
            fields = out[(rollout, bucket)]
            prefix = f"{arm}:{role}"
            for name, value in agg.numbers.items():
                fields[f"{prefix}:{name}"] = value
            if agg.duration.count:
                fields.update(agg.duration.to_fields(f"{prefix}:duration"))
            if agg.ttft.count:
                fields.update(agg.ttft.to_fields(f"{prefix}:ttft"))
        return dict(out)


def merge_fields(buckets: list[dict[str, float]]) -> dict[str, float]:
    """Add up the fields of several buckets (a window), as the store adds up replicas."""
    total: dict[str, float] = defaultdict(float)
    for fields in buckets:
        for name, value in fields.items():
            total[name] += value
    return dict(total)
