"""Prometheus metrics of online scoring (docs/metrics.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from proxy.shadow.queue import QueueMetrics

SCORES = Counter(
    "llm_rollout_scores",
    "Answers scored online, per scorer: result passed / failed (pass/fail scorers and judges "
    "whose rubric has a threshold), scored (a score without a verdict), error (the scorer could "
    "not judge: counts as 0 in the score_<scorer> gate).",
    ["rollout", "arm", "role", "scorer", "result"],
)
SCORE_VALUE = Histogram(
    "llm_rollout_score_value",
    "Online scores' gate values (1/0 for pass/fail, else the score in [0, 1]; an error is 0): "
    "_sum / _count is the mean the score_<scorer> gate reads.",
    ["rollout", "arm", "role", "scorer"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
DROPPED = Counter(
    "llm_rollout_scoring_dropped",
    "Answers sampled for scoring but not scored, by reason: queue_full, budget (the hourly USD "
    "budget is spent), rate (calls_per_minute reached), busy (the process was above "
    "scoring.max_cpu of a core, or its window of off-path jobs was full), call_failed is not "
    "counted here (a failed call is not scored), live_cancelled, closed, internal.",
    ["rollout", "reason"],
)
JOBS = Counter(
    "llm_rollout_scoring_jobs",
    "Scoring jobs (one answer, every scorer) run to an end: ok, timeout, error, cancelled.",
    ["rollout", "outcome"],
)
COST = Counter(
    "llm_rollout_scoring_cost_usd",
    "What the judges of online scoring cost, in US dollars from the price table.",
    ["rollout"],
)
BUDGET_PAUSED = Gauge(
    "llm_rollout_scoring_budget_paused",
    "1 while online scoring is paused because its spend in the last hour reached the rollout's "
    "scoring.usd_per_hour.",
    ["rollout"],
    multiprocess_mode="livemax",
)
QUEUE_METRICS = QueueMetrics(dropped=DROPPED, jobs=JOBS)
