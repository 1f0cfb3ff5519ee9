"""Prometheus metrics of the data plane. Names follow Prometheus conventions (base units,
`_total` counters, `_seconds` histograms). Labels never carry a user or request identity."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Latency buckets suited to LLM calls: from a cached embedding to a long generation.
LLM_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)

REQUESTS = Counter(
    "llm_rollout_requests",
    "Requests proxied, by provider, API and outcome (ok, or the error kind).",
    ["provider", "api", "outcome"],
)
DURATION = Histogram(
    "llm_rollout_request_duration_seconds",
    "Time from the request's arrival to the last byte sent to the client.",
    ["provider", "api"],
    buckets=LLM_SECONDS,
)
MALFORMED = Counter(
    "llm_rollout_malformed_requests",
    "Requests on LLM routes whose body could not be read as a JSON object (forwarded untouched).",
    ["reason"],
)
REJECTED = Counter(
    "llm_rollout_rejected_requests",
    "Requests the proxy answered itself without an upstream call (404, 413...).",
    ["reason"],
)
STAGE_ERRORS = Counter(
    "llm_rollout_stage_errors",
    "Exceptions raised by a pipeline stage (the request went on without it).",
    ["stage"],
)
