"""Judge one gate over the baseline and candidate snapshots of the same window.

Every gate reduces to a tested quantity with an interval and a limit it must stay below (or, for
`min`, above). The verdict:
- no_data: either side below the gate's min_sample (no traffic is never a pass);
- fail: the interval at the ROLLBACK confidence lies entirely beyond the limit (a breach shown;
  the first stage's planned regression test, rollout/control/regression_test.py, fails more);
- pass: the interval at the PROMOTE confidence lies entirely within the limit;
- inconclusive: anything else (the controller holds and looks again).
The rollback level is the stricter one, and decide() also wants several failing looks in a row,
because the controller looks again every interval and each look could be a false alarm.

A gate's trade-off waives a failing or inconclusive result when the trade-off metric is shown, at
the promote confidence, to have dropped by the required percent (e.g. cost per 1k by 80%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from rollout.config.gates import Bound, Gate
from rollout.config.metrics import METRICS
from rollout.config.plan import Catastrophe, Confidence, Plan
from rollout.control.snapshot import Snapshot
from rollout.stats.gate_stats import (
    MIN_BATCHES,
    Interval,
    difference_of_ratios,
    mover_difference,
    quantile_delta,
    quantile_interval,
    quantile_ratio,
    ratio_estimate,
    ratio_interval,
    ratio_of_ratios,
    wilson,
)

Verdict = Literal["pass", "fail", "inconclusive", "no_data"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict with the numbers behind it. `interval` is at the promote confidence,
    `rollback_interval` at the rollback one; both are of `tested` (e.g. "candidate - baseline")."""

    gate: str
    metric: str
    klass: str
    verdict: Verdict
    bound: str
    reason: str
    samples: tuple[int, int]  # (candidate, baseline)
    candidate: float | None = None
    baseline: float | None = None
    tested: str = ""
    interval: Interval | None = None
    rollback_interval: Interval | None = None
    waived: str | None = None  # why a failing gate was waived by its trade-off


@dataclass(frozen=True, slots=True)
class _Test:
    tested: str
    promote: Interval
    rollback: Interval
    limit: float
    bad_above: bool  # False: the limit is a minimum


def sample_size(metric: str, snap: Snapshot) -> int:
    """How many samples the metric has in the snapshot (its min_sample counts these)."""
    info = METRICS[metric]
    if info.kind == "proportion":
        return snap.count(info.source.split("/")[1])
    if info.kind == "quantile":
        return getattr(snap, info.source).count
    return snap.priced


def proportion_counts(metric: str, snap: Snapshot) -> tuple[int, int]:
    hits, trials = METRICS[metric].source.split("/")
    return snap.count(hits), snap.count(trials)


def point_estimate(metric: str, snap: Snapshot) -> float:
    """The metric's plain value over the snapshot (no interval); needs samples."""
    info = METRICS[metric]
    if info.kind == "proportion":
        hits, trials = proportion_counts(metric, snap)
        return hits / trials
    if info.kind == "quantile":
        return getattr(snap, info.source).quantile(info.q)
    return snap.cost_usd / snap.priced * 1000.0


def _proportion_test(metric: str, bound: Bound, base: Snapshot, cand: Snapshot, level: float):
    c = proportion_counts(metric, cand)
    if bound.kind in ("max", "min"):
        return "candidate", wilson(*c, level)
    b = proportion_counts(metric, base)
    if bound.kind == "max_ratio_to_baseline":
        # p_c / p_b <= r  <=>  p_c - r·p_b <= 0, defined even when the baseline saw none
        return f"candidate - {bound.limit:g} x baseline", mover_difference(c, b, level, bound.limit)
    if METRICS[metric].better == "higher":  # the drop: baseline - candidate
        return "baseline - candidate", mover_difference(b, c, level)
    return "candidate - baseline", mover_difference(c, b, level)


def _quantile_test(metric: str, bound: Bound, base: Snapshot, cand: Snapshot, level: float):
    info = METRICS[metric]
    c, b = getattr(cand, info.source), getattr(base, info.source)
    if bound.kind == "max":
        return "candidate", quantile_interval(c, info.q, level)
    if bound.kind == "max_ratio_to_baseline":
        return "candidate / baseline", quantile_ratio(c, b, info.q, level)
    return "candidate - baseline", quantile_delta(c, b, info.q, level)


def _cost_test(bound: Bound, base: Snapshot, cand: Snapshot, level: float):
    c = ratio_estimate(cand.cost_batches)
    if bound.kind == "max":
        return "candidate", ratio_interval(c, level, 1000.0)
    b = ratio_estimate(base.cost_batches)
    if bound.kind == "max_ratio_to_baseline":
        return "candidate / baseline", ratio_of_ratios(c, b, level)
    return "candidate - baseline", difference_of_ratios(c, b, level, 1000.0)


def tested_interval(metric: str, bound: Bound, base: Snapshot, cand: Snapshot, level: float):
    kind = METRICS[metric].kind
    if kind == "proportion":
        return _proportion_test(metric, bound, base, cand, level)
    if kind == "quantile":
        return _quantile_test(metric, bound, base, cand, level)
    return _cost_test(bound, base, cand, level)


def _build_test(
    metric: str, bound: Bound, base: Snapshot, cand: Snapshot, conf: Confidence
) -> _Test:
    tested, promote = tested_interval(metric, bound, base, cand, conf.promote)
    _, rollback = tested_interval(metric, bound, base, cand, conf.rollback)
    return _Test(
        tested=tested,
        promote=promote,
        rollback=rollback,
        limit=_limit(metric, bound),
        bad_above=bound.kind != "min",
    )


def _limit(metric: str, bound: Bound) -> float:
    """What the tested quantity must stay below (above, for `min`). A ratio bound on proportions
    is tested as p_c - r·p_b, whose limit is 0."""
    ratio_as_excess = bound.kind == "max_ratio_to_baseline" and METRICS[metric].kind == "proportion"
    return 0.0 if ratio_as_excess else bound.limit


def estimate_past_bound(metric: str, bound: Bound, base: Snapshot, cand: Snapshot) -> bool:
    """The tested quantity's plain estimate is beyond the bound (both sides have samples)."""
    value = tested_interval(metric, bound, base, cand, 0.5)[1].value
    limit = _limit(metric, bound)
    return value > limit if bound.kind != "min" else value < limit


def _level(confidence: float) -> str:
    return f"{confidence * 100:.4g}%"


def _verdict(test: _Test) -> Verdict:
    # NaN ends (0 / 0) compare False both ways: inconclusive, never pass.
    if test.bad_above:
        if test.rollback.low > test.limit:
            return "fail"
        if test.promote.high <= test.limit:
            return "pass"
    else:
        if test.rollback.high < test.limit:
            return "fail"
        if test.promote.low >= test.limit:
            return "pass"
    return "inconclusive"


def missing_data(metric: str, bound: Bound, base: Snapshot, cand: Snapshot, min_sample: int):
    """Why there is not enough data, or None."""
    relative = bound.kind.endswith("_to_baseline")
    arms = [("candidate", cand)] + ([("baseline", base)] if relative else [])
    for arm, snap in arms:
        n = sample_size(metric, snap)
        if n < min_sample:
            return f"{arm} has {n} samples, needs {min_sample}"
        if METRICS[metric].kind == "cost" and len(snap.cost_batches) < MIN_BATCHES:
            return f"{arm} cost spans {len(snap.cost_batches)} buckets, needs {MIN_BATCHES}"
        if metric == "cost_per_1k" and bound.kind == "max_ratio_to_baseline" and snap.cost_usd <= 0:
            return f"{arm} cost is 0: no ratio"
    return None


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.4g}"


def _reason(verdict: Verdict, metric: str, bound: Bound, test: _Test, conf: Confidence) -> str:
    shown = test.rollback if verdict == "fail" else test.promote
    level = conf.rollback if verdict == "fail" else conf.promote
    where = {"pass": "within", "fail": "beyond", "inconclusive": "not clearly within"}[verdict]
    return (
        f"{test.tested} {metric} {_fmt(shown.value)} in [{_fmt(shown.low)}, {_fmt(shown.high)}]"
        f" at {_level(level)}: {where} {bound.describe()}"
    )


def judge(
    gate: Gate,
    bound: Bound,
    base: Snapshot,
    cand: Snapshot,
    conf: Confidence,
) -> GateResult:
    """One gate under one bound, trade-off not applied."""
    metric = gate.metric
    relative = bound.kind.endswith("_to_baseline")
    samples = (sample_size(metric, cand), sample_size(metric, base))
    head = dict(gate=gate.key, metric=metric, klass=gate.klass, bound=bound.describe())
    missing = missing_data(metric, bound, base, cand, gate.min_sample)
    if missing:
        return GateResult(**head, verdict="no_data", reason=missing, samples=samples)
    test = _build_test(metric, bound, base, cand, conf)
    verdict = _verdict(test)
    return GateResult(
        **head,
        verdict=verdict,
        reason=_reason(verdict, metric, bound, test, conf),
        samples=samples,
        candidate=point_estimate(metric, cand),
        baseline=point_estimate(metric, base) if relative else None,
        tested=test.tested,
        interval=test.promote,
        rollback_interval=test.rollback,
    )


def _waiver(gate: Gate, base: Snapshot, cand: Snapshot, conf: Confidence) -> str | None:
    """The trade-off's reason when its drop is shown at the promote confidence, else None."""
    trade = gate.trade_off
    if trade is None:
        return None
    ratio = 1.0 - trade.min_drop_percent / 100.0
    probe = Gate.model_validate(
        {"metric": trade.metric, "min_sample": gate.min_sample, "max_ratio_to_baseline": ratio}
    )
    result = judge(probe, probe, base, cand, conf)
    if result.verdict != "pass":
        return None
    return f"waived: {trade.metric} dropped by >= {trade.min_drop_percent:g}% ({result.reason})"


def evaluate_gate(gate: Gate, plan: Plan, base: Snapshot, cand: Snapshot) -> GateResult:
    """One gate with the plan's tier and confidence, trade-off applied."""
    result = judge(gate, gate.bound_for(plan.tier), base, cand, plan.confidence)
    if result.verdict in ("fail", "inconclusive"):
        waived = _waiver(gate, base, cand, plan.confidence)
        if waived:
            return replace(result, verdict="pass", waived=waived)
    return result


def live_gates(plan: Plan) -> list[Gate]:
    """The plan's gates measured on traffic (offline ones are `rollout eval`'s, except the
    scores the rollout also scores online)."""
    live = plan.live_metrics
    return [g for g in plan.gates if not METRICS[g.metric].offline or g.metric in live]


def evaluate_gates(
    plan: Plan, base: Snapshot, cand: Snapshot, pairs: tuple[Snapshot, Snapshot] | None = None
) -> tuple[GateResult, ...]:
    """Every gate of the plan. Gates on shadow pairs are judged on `pairs` (noise, shadow) —
    the baseline's disagreement with itself against the candidate's — and left out without."""
    results = []
    for gate in live_gates(plan):
        if not METRICS[gate.metric].pairs:
            results.append(evaluate_gate(gate, plan, base, cand))
        elif pairs is not None:
            results.append(evaluate_gate(gate, plan, *pairs))
    return tuple(results)


def catastrophe(cand: Snapshot, rule: Catastrophe) -> str | None:
    """Why the candidate is failing so plainly that intervals need not be waited for, or None."""
    if cand.requests < rule.min_requests or cand.requests == 0:
        return None
    rate = cand.errors / cand.requests
    if rate < rule.error_rate:
        return None
    return (
        f"catastrophe: {cand.errors} of {cand.requests} candidate requests failed"
        f" ({rate:.0%} >= {rule.error_rate:.0%})"
    )


def tested_limit(metric: str, bound: Bound) -> float:
    """What a gate's tested quantity is held to (0 for a ratio bound on proportions): public for
    the projection of how much more data a gate needs (rollout/control/hold_needs.py)."""
    return _limit(metric, bound)
