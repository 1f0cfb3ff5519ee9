"""Per-case values of each gate metric, paired across the arms.

The unit of pairing is the case: with `--repeat K`, a case's value on an arm is the mean over
its K answers (for a rate, the share of them with the event), so repeats sharpen each case's
value without being counted as independent cases. A case enters a metric only when both arms
have a value for it (a latency needs an answer on each side).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rollout.config.metrics import METRICS
from rollout.eval.result import Call

# For each metric, a call's value, or None when the call says nothing about it. Rates are of
# the *bad* event (an error, a refusal, invalid JSON, a failed expectation), so that for every
# metric "higher is worse" once `higher_is_worse` is applied.
Extract = Callable[[Call], float | None]


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def _answered(call: Call) -> bool:
    return call.answer.error is None


EXTRACT: dict[str, Extract] = {
    "error_rate": lambda c: _flag(c.answer.error is not None),
    "refusal_rate": lambda c: _flag(c.answer.refused) if _answered(c) else None,
    "json_validity": lambda c: (
        _flag(c.answer.json_result == "valid") if c.answer.json_result is not None else None
    ),
    "expect_pass_rate": lambda c: _flag(bool(c.passed)) if c.passed is not None else None,
    "latency_p50": lambda c: c.duration if _answered(c) else None,
    "latency_p95": lambda c: c.duration if _answered(c) else None,
    "latency_p99": lambda c: c.duration if _answered(c) else None,
    "ttft_p95": lambda c: c.ttft if _answered(c) else None,
    "cost_per_1k": lambda c: c.cost_usd if _answered(c) else None,
}


def _score_of(metric: str) -> Extract:
    """`score_<scorer>`: the scorer's value of an answered call (a scorer error counts as 0)."""
    scorer = metric.removeprefix("score_")

    def extract(call: Call) -> float | None:
        score = call.score(scorer) if _answered(call) else None
        if score is None or (score.value is None and score.error is None):
            return None  # not scored, or nothing to score on this case
        return score.metric

    return extract


def extractor(metric: str) -> Extract:
    return _score_of(metric) if metric.startswith("score_") else EXTRACT[metric]


@dataclass(frozen=True, slots=True)
class Paired:
    """A metric's per-case values on both arms, cases in the same order."""

    cases: tuple[str, ...]
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    whole: bool  # every value is 0 or 1 (one answer per case and arm): exact paired tests apply

    def __len__(self) -> int:
        return len(self.cases)


def offline(metric: str) -> bool:
    """Whether `rollout eval` can measure the metric (shadow-pair metrics are live only)."""
    return metric in EXTRACT or metric.startswith("score_")


def paired_values(metric: str, calls: Iterable[Call]) -> Paired:
    extract = extractor(metric)
    by_case: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for call in calls:
        value = extract(call)
        if value is not None:
            by_case[call.case][call.arm].append(value)
    cases, base, cand = [], [], []
    whole = True
    for case, arms in by_case.items():
        if arms.get("baseline") and arms.get("candidate"):
            b, c = arms["baseline"], arms["candidate"]
            whole = whole and len(b) == 1 and len(c) == 1 and {*b, *c} <= {0.0, 1.0}
            cases.append(case)
            base.append(sum(b) / len(b))
            cand.append(sum(c) / len(c))
    if METRICS[metric].kind != "proportion":
        whole = False
    return Paired(tuple(cases), tuple(base), tuple(cand), whole)


def bad_event(metric: str, value: float) -> float:
    """A rate as the share of the bad event (for json_validity and expect_pass_rate the good
    event is measured: its complement is the bad one)."""
    return 1.0 - value if METRICS[metric].better == "higher" else value
