"""The gates on the judges themselves: `judge_disagreement` (a second judge on a sample) and
`review_agreement` (people's labels). Each judge scorer is judged on its own checks and the
worst of them decides — fail, then no data, then inconclusive — so one untrusted judge cannot
hide among trusted ones. A judge nobody checked is no data: never a pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rollout.config.gates import Bound, Gate
from rollout.scorers.reliability import JudgeReliability
from rollout.stats.gate_stats import Interval

Verdict = str
IntervalVerdict = Callable[[Interval, Bound, str], tuple[Verdict, str]]
_WORST_FIRST = ("fail", "no_data", "inconclusive", "pass")


@dataclass(frozen=True, slots=True)
class JudgeFinding:
    verdict: Verdict
    reason: str
    samples: int = 0
    value: float | None = None
    tested: str = ""
    interval: Interval | None = None


def judge_finding(
    gate: Gate,
    bound: Bound,
    reliability: Sequence[JudgeReliability],
    confidence: float,
    interval_verdict: IntervalVerdict,
) -> JudgeFinding:
    if not reliability:
        return JudgeFinding("no_data", "no judge scorer ran")
    found = [_one(gate, bound, r, confidence, interval_verdict) for r in reliability]
    found.sort(key=lambda f: _WORST_FIRST.index(f.verdict))
    worst = found[0]
    if len(found) == 1:
        return worst
    others = "; ".join(f.reason for f in found[1:])
    return JudgeFinding(
        worst.verdict,
        f"{worst.reason} (others: {others})",
        worst.samples,
        worst.value,
        worst.tested,
        worst.interval,
    )


def _one(
    gate: Gate,
    bound: Bound,
    judge: JudgeReliability,
    confidence: float,
    interval_verdict: IntervalVerdict,
) -> JudgeFinding:
    name = judge.scorer
    if gate.metric == "judge_disagreement":
        if not judge.second_judge:
            return JudgeFinding("no_data", f"{name}: no second judge configured (second:)")
        n, interval, what = judge.checked, judge.disagreement(confidence), "answers judged twice"
        tested = f"{name} disagreement"
    else:
        if not judge.reviewing:
            return JudgeFinding("no_data", f"{name}: no human review configured (review:)")
        n, interval, what = judge.reviewed, judge.agreement(confidence), "human labels"
        tested = f"{name} agreement"
    if interval is None or n < gate.min_sample:
        return JudgeFinding("no_data", f"{name}: {n} {what}; the gate needs {gate.min_sample}", n)
    verdict, reason = interval_verdict(interval, bound, tested)
    if gate.metric == "review_agreement" and judge.kappa is not None:
        k = judge.kappa
        reason += f"; Cohen's kappa {k.value:.2f} [{k.low:.2f}, {k.high:.2f}]"
    return JudgeFinding(verdict, reason, n, interval.value, tested, interval)
