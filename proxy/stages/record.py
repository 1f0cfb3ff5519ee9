"""Count the finished exchange in Prometheus (and, with rollouts, in the controller's windows)."""

from __future__ import annotations

from time import time

from prometheus_client import Histogram

from proxy.exchange import Exchange
from proxy.metrics import FALLBACKS, OVERHEAD, ArmMetricsCache
from rollout.control.subject_counts import SubjectAggregator
from rollout.control.windows import CallSample, WindowAggregator


class Record:
    name = "record"

    def __init__(
        self,
        metrics: ArmMetricsCache,
        windows: WindowAggregator | None = None,
        subjects: SubjectAggregator | None = None,
    ) -> None:
        self.metrics = metrics
        self.windows = windows  # None: no rollouts to report to a controller
        self.subjects = subjects  # distinct candidate subjects, for the plans' min_subjects
        self._overhead: dict[str, Histogram] = {}  # bound children per provider

    async def __call__(self, ex: Exchange) -> None:
        if ex.upstream is None:
            return  # answered before a provider was chosen: counted as rejected
        provider = ex.upstream.name
        m = self.metrics.get(ex.rollout, ex.arm, ex.role, provider, ex.model or "-")
        m.requests.inc()
        if ex.duration is not None:
            m.duration.observe(ex.duration)
        kind = error_kind(ex)
        if kind is not None:
            m.error(kind).inc()
        overhead = ex.proxy_overhead
        if overhead is not None:
            child = self._overhead.get(provider)
            if child is None:
                child = self._overhead[provider] = OVERHEAD.labels(provider)
            child.observe(overhead)
        if ex.fallback_from is not None:
            FALLBACKS.labels(ex.rollout, ex.arm, ex.fallback_from, provider).inc()
        if ex.rollout and self.windows is not None and kind != "denied":
            # A flag's deny never reached an arm: it says nothing about the arm's health. A call
            # a fallback rescued counts as the arm's error: else a broken candidate looks healthy.
            now = time()
            judged = kind or ("fallback" if ex.fallback_from is not None else None)
            self.windows.add(ex.rollout, ex.arm, ex.role, call_sample(ex, judged), now)
            if self.subjects is not None and ex.arm == "candidate" and ex.role == "live":
                self._count_subject(ex, kind, now)
        obs = ex.observation
        if obs is None:
            return
        if ex.stream and obs.first_token_at is not None:
            m.ttft.observe(obs.first_token_at - ex.started)
        usage = obs.usage
        if usage is None:
            if kind is None:
                m.usage_missing.inc()
        else:
            tokens = m.tokens
            tokens["input"].inc(usage.input_tokens)
            tokens["cached_input"].inc(usage.cached_input_tokens)
            tokens["cache_write"].inc(usage.cache_write_tokens)
            tokens["output"].inc(usage.output_tokens)
            tokens["reasoning"].inc(usage.reasoning_tokens)
            if ex.cost_usd is None:
                m.unpriced.inc()
            else:
                m.cost.inc(ex.cost_usd)
        if ex.refusal is not None:
            m.refusal(ex.refusal).inc()
        if ex.json_result is not None:
            m.json_check(ex.json_result).inc()

    def _count_subject(self, ex: Exchange, kind: str | None, now: float) -> None:
        """A candidate's subject, for min_subjects; a cancelled call is left out, as the
        windows leave it out of the requests."""
        if ex.subject and kind != "client_cancelled":
            self.subjects.add(ex.rollout, ex.subject, now)  # type: ignore[union-attr]


def call_sample(ex: Exchange, kind: str | None) -> CallSample:
    """What the controller's windows keep of one exchange."""
    sample = CallSample(ex.duration, error=kind, json_result=ex.json_result, cost_usd=ex.cost_usd)
    sample.refusal = ex.refusal is not None
    obs = ex.observation
    if obs is None:
        return sample
    if ex.stream and obs.first_token_at is not None:
        sample.ttft = obs.first_token_at - ex.started
    usage = obs.usage
    if usage is not None:
        sample.had_usage = True
        # All input the arm sent, however billed: a prompt change shows here, while cache
        # hits and misses show in the cost.
        sample.input_tokens = (
            usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens
        )
        sample.output_tokens = usage.output_tokens
    return sample


def error_kind(ex: Exchange) -> str | None:
    """The one error an exchange counts as, or None for a success."""
    if ex.error is not None:
        return ex.error.kind
    status = ex.status or 0
    if status == 429:
        return "upstream_429"
    if 400 <= status < 500:
        return "upstream_4xx"
    if status >= 500:
        return "upstream_5xx"
    if ex.observation is not None and ex.observation.error_event:
        return "stream_error"
    return None
