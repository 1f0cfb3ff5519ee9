"""The scores in the eval's report: each scorer on each arm (how many answers it scored, their
mean, the pass rate, the errors), and each judge's reliability (the second judge's
disagreement, the agreement with people, Cohen's kappa), every rate with its interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollout.eval.result import ARMS, Call, EvalRun
from rollout.stats.gate_stats import Interval, wilson


def scores_doc(run: EvalRun, confidence: float) -> list[dict[str, Any]]:
    names = sorted({s.scorer for c in run.calls for s in c.scores})
    return [
        {"scorer": name, **{arm: _arm(run.of(arm), name, confidence) for arm in ARMS}}
        for name in names
    ]


def _arm(calls: Sequence[Call], name: str, confidence: float) -> dict[str, Any]:
    scores = [s for c in calls if (s := c.score(name)) is not None]
    judged = [s for s in scores if s.error is None and s.value is not None]
    verdicts = [s.passed for s in judged if s.passed is not None]
    errors = sum(s.error is not None for s in scores)
    passed = sum(verdicts)
    return {
        "scored": len(judged),
        "errors": errors,
        "error_kinds": sorted({s.error for s in scores if s.error is not None}),
        "mean": sum(s.value or 0.0 for s in judged) / len(judged) if judged else None,
        "pass_rate": passed / len(verdicts) if verdicts else None,
        "interval": _span(wilson(passed, len(verdicts), confidence)) if verdicts else None,
    }


def judges_doc(run: EvalRun, confidence: float) -> list[dict[str, Any]]:
    out = []
    for judge in run.reliability:
        disagreement, agreement = judge.disagreement(confidence), judge.agreement(confidence)
        out.append(
            {
                "scorer": judge.scorer,
                "second_judge": judge.second_judge,
                "checked": judge.checked,
                "disagreed": judge.disagreed,
                "disagreement": _span(disagreement),
                "reviewing": judge.reviewing,
                "reviewed": judge.reviewed,
                "agreed": judge.agreed,
                "agreement": _span(agreement),
                "kappa": _span(judge.kappa),
            }
        )
    return out


def _span(interval: Interval | None) -> dict[str, float] | None:
    if interval is None:
        return None
    return {"value": interval.value, "low": interval.low, "high": interval.high}
