"""Prometheus metrics of shadow traffic's machinery (the shadow calls themselves are counted by
the per-call metrics under role="shadow")."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DROPPED = Counter(
    "llm_rollout_shadow_dropped",
    "Shadow requests not sent, by reason: queue_full (the queue was at its bound), budget (the "
    "hourly USD budget is spent), busy (the process was above shadow.max_cpu of a core, or its "
    "window of shadow jobs in flight was full), "
    "live_cancelled (the client left before its answer), closed (the proxy is shutting down), "
    "internal (a bug).",
    ["rollout", "reason"],
)
JOBS = Counter(
    "llm_rollout_shadow_jobs",
    "Shadow jobs run to an end, by outcome: ok, timeout (their own time limit), error (raised), "
    "cancelled (at shutdown).",
    ["rollout", "outcome"],
)
BUDGET_PAUSED = Gauge(
    "llm_rollout_shadow_budget_paused",
    "1 while mirroring is paused because the rollout's shadow spend in the last hour reached its "
    "USD-per-hour budget.",
    ["rollout"],
    multiprocess_mode="livemax",
)
CPU_SHARE = Gauge(
    "llm_rollout_shadow_cpu_share",
    "The process's CPU use (share of one core: the larger of the last 25 ms sample and its 0.2 s "
    "average) when a request was last chosen for mirroring; above a rollout's shadow.max_cpu "
    "its chosen requests are dropped as busy.",
    multiprocess_mode="livemax",
)
COMPARISONS = Counter(
    "llm_rollout_shadow_comparisons",
    "Compared shadow pairs per comparator (error, refusal, json, tools, finish, length, text) and "
    "result (agree, disagree). kind: candidate (the live answer vs the candidate's) or noise (the "
    "live answer vs a second baseline call: how much the baseline disagrees with itself).",
    ["rollout", "kind", "comparator", "result"],
)
