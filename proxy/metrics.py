"""Prometheus metrics of the data plane: the names the Grafana dashboard and docs/metrics.md use.

Conventions: base units, `_total` counters, `_seconds` histograms. Per-call metrics carry
`rollout`, `arm` (baseline/candidate), `role` (live/shadow), `provider`, `model` — never a user or
a request id. Label children are bound once per label set and cached (`ArmMetrics`), so a request
pays one dict lookup, not one label resolution per metric.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CALL = ["rollout", "arm", "role", "provider", "model"]
# LLM latencies: from a cached embedding (10 ms) to a long generation (5 min).
LLM_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
TTFT_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
OVERHEAD_SECONDS = (0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)

REQUESTS = Counter("llm_rollout_requests", "LLM calls finished (any outcome).", CALL)
FALLBACKS = Counter(
    "llm_rollout_fallbacks",
    "Calls a fallback answered after their provider failed before the first byte "
    "(counted as the arm's errors in its gates).",
    ["rollout", "arm", "from_provider", "to_provider"],
)
ERRORS = Counter(
    "llm_rollout_errors",
    "Failed calls by kind: upstream_4xx, upstream_429, upstream_5xx, connect_error, "
    "connect_timeout, first_byte_timeout, idle_timeout, total_timeout, connection_reset, "
    "malformed_response, stream_error, internal_error; client_cancelled is the client's doing.",
    [*CALL, "kind"],
)
DURATION = Histogram(
    "llm_rollout_request_duration_seconds",
    "From the request's arrival to the last byte sent to the client.",
    CALL,
    buckets=LLM_SECONDS,
)
TTFT = Histogram(
    "llm_rollout_ttft_seconds",
    "Time to first token: arrival to the first content-bearing event of a stream.",
    CALL,
    buckets=TTFT_SECONDS,
)
TOKENS = Counter(
    "llm_rollout_tokens",
    "Tokens by type: input (uncached), cached_input, cache_write, output, reasoning (part of "
    "output).",
    [*CALL, "type"],
)
COST = Counter("llm_rollout_cost_usd", "Cost in US dollars from the price table.", CALL)
UNPRICED = Counter(
    "llm_rollout_unpriced_requests",
    "Calls with usage but a model missing from the price table (cost unknown, not zero).",
    CALL,
)
USAGE_MISSING = Counter(
    "llm_rollout_usage_missing",
    "Successful LLM calls whose response reported no token usage.",
    CALL,
)
REFUSALS = Counter(
    "llm_rollout_refusals",
    "Answers that refused: source=provider (the provider flagged it) or phrase (detector).",
    [*CALL, "source"],
)
JSON_CHECKS = Counter(
    "llm_rollout_json_checks",
    "Checks of answers that had to be JSON (JSON mode, schemas, tool arguments) by result: "
    "valid, invalid_json, schema_mismatch, truncated.",
    [*CALL, "result"],
)
OVERHEAD = Histogram(
    "llm_rollout_proxy_overhead_seconds",
    "Time spent in the proxy itself: before the upstream call, and after its last byte.",
    ["provider"],
    buckets=OVERHEAD_SECONDS,
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

STORE_ERRORS = Counter(
    "llm_rollout_store_errors",
    "Store operations that failed, or were skipped while the store was unreachable.",
    ["op"],
)


class ArmMetrics:
    """The metric children of one (rollout, arm, role, provider, model)."""

    __slots__ = (
        "cost",
        "duration",
        "errors",
        "json_checks",
        "labels",
        "refusals",
        "requests",
        "tokens",
        "ttft",
        "unpriced",
        "usage_missing",
    )

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.requests = REQUESTS.labels(*labels)
        self.duration = DURATION.labels(*labels)
        self.ttft = TTFT.labels(*labels)
        self.cost = COST.labels(*labels)
        self.unpriced = UNPRICED.labels(*labels)
        self.usage_missing = USAGE_MISSING.labels(*labels)
        self.tokens = {t: TOKENS.labels(*labels, t) for t in _TOKEN_TYPES}
        self.errors: dict[str, Counter] = {}
        self.refusals: dict[str, Counter] = {}
        self.json_checks: dict[str, Counter] = {}

    def error(self, kind: str) -> Counter:
        child = self.errors.get(kind)
        if child is None:
            child = self.errors[kind] = ERRORS.labels(*self.labels, kind)
        return child

    def refusal(self, source: str) -> Counter:
        child = self.refusals.get(source)
        if child is None:
            child = self.refusals[source] = REFUSALS.labels(*self.labels, source)
        return child

    def json_check(self, result: str) -> Counter:
        child = self.json_checks.get(result)
        if child is None:
            child = self.json_checks[result] = JSON_CHECKS.labels(*self.labels, result)
        return child


_TOKEN_TYPES = ("input", "cached_input", "cache_write", "output", "reasoning")


class ArmMetricsCache:
    """Bound children per label set, with a cap on distinct model names: a client controls the
    model field, and must not be able to blow up the number of time series."""

    def __init__(self, max_models: int = 200) -> None:
        self._by_labels: dict[tuple[str, ...], ArmMetrics] = {}
        self._models: set[str] = set()
        self._max_models = max_models

    def get(self, rollout: str, arm: str, role: str, provider: str, model: str) -> ArmMetrics:
        key = (rollout, arm, role, provider, model)
        found = self._by_labels.get(key)
        if found is not None:
            return found
        if model not in self._models:
            if len(self._models) >= self._max_models:
                return self.get(rollout, arm, role, provider, "other")
            self._models.add(model)
        found = self._by_labels[key] = ArmMetrics(key)
        return found


WINDOW_FIELDS_DROPPED = Counter(
    "llm_rollout_window_fields_dropped",
    "Metric window fields (named numbers) dropped unsent: the store stayed unavailable longer "
    "than the flusher keeps buckets (10 minutes by default), or the proxy shut down meanwhile.",
)


FLAG_MATCHES = Counter(
    "llm_rollout_flag_matches",
    "Requests each enabled feature flag matched (its effect applied; a deny counts too).",
    ["flag"],
)
