"""The plan's gates judged offline, on paired answers: the same gate definitions (metric, bound,
tier, class, trade-off, minimum sample) as the live controller, other statistics.

Each gate's interval is of how much *worse* the candidate is than its bound measures: for a
rate, candidate - baseline of the bad event (errors, refusals, invalid JSON, failed
expectations); for latency and cost, candidate / baseline (or - for a delta bound); for an
absolute bound, the candidate's own value. Rates with one answer per case and arm use the exact
paired statistics (McNemar's test, Newcombe's paired interval); anything else the paired
bootstrap over cases (fixed seed: the same data always gives the same report).

Verdicts, as live: fail when the whole interval lies past the bound, pass when it lies within,
inconclusive between; no data below the gate's `min_sample` cases. Never pass on no data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rollout.config.gates import Bound, Gate
from rollout.config.metrics import JUDGE_METRICS, METRICS, Tier
from rollout.config.plan import Plan
from rollout.eval.judge_gates import judge_finding
from rollout.eval.metrics import Paired, bad_event, offline, paired_values
from rollout.eval.result import Call
from rollout.scorers.reliability import JudgeReliability
from rollout.stats.gate_stats import Interval, wilson
from rollout.stats.paired import (
    mcnemar_worse_p,
    paired_bootstrap,
    paired_difference,
    quantile,
)

Verdict = Literal["pass", "fail", "inconclusive", "no_data", "live_only"]
Statistic = Callable[[Sequence[float], Sequence[float]], float]


@dataclass(frozen=True, slots=True)
class GateOutcome:
    gate: str
    metric: str
    klass: str
    verdict: Verdict
    bound: str
    reason: str
    samples: int  # cases with a value on both arms
    baseline: float | None = None
    candidate: float | None = None
    tested: str = ""  # what the interval is of
    interval: Interval | None = None
    p_worse: float | None = None  # McNemar: chance of seeing this if the arms were alike
    waived: str | None = None

    @property
    def holds(self) -> bool:
        """Counts as met: passed, or failed and waived by its trade-off."""
        return self.verdict == "pass" or (self.verdict == "fail" and self.waived is not None)


def judge_gates(
    plan: Plan,
    tier: Tier,
    calls: Sequence[Call],
    reliability: Sequence[JudgeReliability] = (),
) -> list[GateOutcome]:
    """Every gate of the plan; `reliability` holds the run's judge checks (rollout.scorers)."""
    confidence = plan.confidence.promote
    outcomes = [
        _judge_judges(g, g.bound_for(tier), reliability, confidence)
        if g.metric in JUDGE_METRICS
        else _judge(g, g.bound_for(tier), calls, confidence)
        for g in plan.gates
    ]
    by_key = {g.key: g for g in plan.gates}
    return [_waive(o, by_key[o.gate], calls, confidence) for o in outcomes]


def _judge(gate: Gate, bound: Bound, calls: Sequence[Call], confidence: float) -> GateOutcome:
    base = {"gate": gate.key, "metric": gate.metric, "klass": gate.klass}
    described = bound.describe()
    if not offline(gate.metric):
        reason = "judged on live shadow pairs only"
        return GateOutcome(**base, verdict="live_only", bound=described, reason=reason, samples=0)
    paired = paired_values(gate.metric, calls)
    n = len(paired)
    if n < gate.min_sample:
        reason = f"{n} cases with data on both arms; the gate needs {gate.min_sample}"
        return GateOutcome(**base, verdict="no_data", bound=described, reason=reason, samples=n)
    tested, interval, p_worse = _interval(gate.metric, bound, paired, confidence)
    verdict, reason = interval_verdict(interval, bound, tested)
    return GateOutcome(
        **base,
        verdict=verdict,
        bound=described,
        reason=reason,
        samples=n,
        baseline=_summary(gate.metric, paired.baseline),
        candidate=_summary(gate.metric, paired.candidate),
        tested=tested,
        interval=interval,
        p_worse=p_worse,
    )


def _judge_judges(
    gate: Gate, bound: Bound, reliability: Sequence[JudgeReliability], confidence: float
) -> GateOutcome:
    """judge_disagreement, review_agreement: the worst of the judges decides."""
    found = judge_finding(gate, bound, reliability, confidence, interval_verdict)
    return GateOutcome(
        gate=gate.key,
        metric=gate.metric,
        klass=gate.klass,
        verdict=found.verdict,
        bound=bound.describe(),
        reason=found.reason,
        samples=found.samples,
        candidate=found.value,
        tested=found.tested,
        interval=found.interval,
    )


def _interval(
    metric: str, bound: Bound, paired: Paired, confidence: float
) -> tuple[str, Interval, float | None]:
    """(what is tested, its interval, McNemar's p-value where it applies)."""
    if METRICS[metric].kind == "proportion":
        return _rate_interval(metric, bound, paired, confidence)
    of = _statistic(metric)
    if bound.kind == "max_ratio_to_baseline":
        return "candidate / baseline", _bootstrap(paired, _ratio_of(of), confidence), None
    if bound.kind == "max_delta_to_baseline":
        return "candidate - baseline", _bootstrap(paired, _delta_of(of), confidence), None
    return "candidate", _bootstrap(paired, _candidate_of(of), confidence), None


def _rate_interval(
    metric: str, bound: Bound, paired: Paired, confidence: float
) -> tuple[str, Interval, float | None]:
    kind = bound.kind
    if kind in ("max", "min"):  # the candidate's own rate, of the metric as named
        own = paired.candidate
        if paired.whole:
            return "candidate", wilson(int(sum(own)), len(own), confidence), None
        return "candidate", _bootstrap(paired, _candidate_of(_mean), confidence), None
    base = [bad_event(metric, v) for v in paired.baseline]
    cand = [bad_event(metric, v) for v in paired.candidate]
    if kind == "max_ratio_to_baseline":
        interval = paired_bootstrap(base, cand, _ratio_of(_mean), confidence=confidence)
        return "candidate / baseline", interval, None
    worse_is = "baseline - candidate" if METRICS[metric].better == "higher" else None
    tested = worse_is or "candidate - baseline"
    if not paired.whole:
        interval = paired_bootstrap(base, cand, _delta_of(_mean), confidence=confidence)
        return tested, interval, None
    both, only_base, only_cand, neither = _table(base, cand)
    interval = paired_difference(
        both=both,
        only_baseline=only_base,
        only_candidate=only_cand,
        neither=neither,
        confidence=confidence,
    )
    return tested, interval, mcnemar_worse_p(only_cand, only_base)


def _table(base: Sequence[float], cand: Sequence[float]) -> tuple[int, int, int, int]:
    """(both bad, only the baseline bad, only the candidate bad, neither) over the cases."""
    both = only_base = only_cand = 0
    for b, c in zip(base, cand, strict=True):
        if b and c:
            both += 1
        elif b:
            only_base += 1
        elif c:
            only_cand += 1
    return both, only_base, only_cand, len(base) - both - only_base - only_cand


def _statistic(metric: str) -> Callable[[Sequence[float]], float]:
    info = METRICS[metric]
    if info.kind == "quantile":
        return lambda values: quantile(values, info.q)
    return lambda values: 1000.0 * _mean(values)  # cost per 1000 requests


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _ratio_of(of: Callable[[Sequence[float]], float]) -> Statistic:
    return lambda b, c: _ratio(of(c), of(b))


def _delta_of(of: Callable[[Sequence[float]], float]) -> Statistic:
    return lambda b, c: of(c) - of(b)


def _candidate_of(of: Callable[[Sequence[float]], float]) -> Statistic:
    return lambda b, c: of(c)


def _bootstrap(paired: Paired, statistic: Statistic, confidence: float) -> Interval:
    return paired_bootstrap(paired.baseline, paired.candidate, statistic, confidence=confidence)


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else float("inf")
    return a / b


def _summary(metric: str, values: Sequence[float]) -> float:
    info = METRICS[metric]
    if info.kind == "quantile":
        return quantile(values, info.q)
    if info.kind == "cost":
        return 1000.0 * _mean(values)
    return _mean(values)


def interval_verdict(interval: Interval, bound: Bound, tested: str) -> tuple[Verdict, str]:
    limit, low, high = bound.limit, interval.low, interval.high
    span = f"{tested} {interval.value:.4g} [{low:.4g}, {high:.4g}]"
    if bound.kind == "min":
        if low >= limit:
            return "pass", f"{span} above the minimum {limit:g}"
        if high < limit:
            return "fail", f"{span} below the minimum {limit:g}"
    else:
        if high <= limit:
            return "pass", f"{span} within {limit:g}"
        if low > limit:
            return "fail", f"{span} past {limit:g}"
    hint = _cases_hint(interval, limit)
    return "inconclusive", f"{span}: the interval straddles {limit:g}{hint}"


def _cases_hint(interval: Interval, limit: float) -> str:
    """About how many times the cases would narrow the interval enough to decide, assuming the
    estimate holds and the width shrinks as 1/sqrt(n)."""
    half = (interval.high - interval.low) / 2.0
    margin = abs(limit - interval.value)
    if not math.isfinite(half) or margin == 0.0:
        return "; the estimate sits on the bound: more cases may never decide it"
    factor = (half / margin) ** 2
    return f"; about {math.ceil(factor * 10) / 10:g}x the cases would decide it"


def _waive(
    outcome: GateOutcome, gate: Gate, calls: Sequence[Call], confidence: float
) -> GateOutcome:
    """A failing gate whose trade-off metric is shown to drop enough is waived (kept visible)."""
    trade = gate.trade_off
    if outcome.verdict != "fail" or trade is None or not offline(trade.metric):
        return outcome
    paired = paired_values(trade.metric, calls)
    if len(paired) < gate.min_sample:
        return outcome
    ratio = Bound(max_ratio_to_baseline=1.0)
    _, interval, _ = _interval(trade.metric, ratio, paired, confidence)
    needed = 1.0 - trade.min_drop_percent / 100.0
    if interval.high > needed:
        return outcome
    drop = 100.0 * (1.0 - interval.high)
    waived = f"{trade.metric} drops by at least {drop:.0f}% (needs {trade.min_drop_percent:g}%)"
    return GateOutcome(**{**_fields(outcome), "waived": waived})


def _fields(outcome: GateOutcome) -> dict[str, object]:
    return {name: getattr(outcome, name) for name in GateOutcome.__dataclass_fields__}
