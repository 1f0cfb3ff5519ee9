"""The gross-regression rule: a sequential probability-ratio test (Wald's SPRT) of the candidate's
error rate, "as good as the baseline" against "`error_rate_delta` worse" (10 points by default),
over every live candidate request since the first stage began, across stage boundaries.

Why. The gates wait for `min_sample` (100) and restart their window at every stage; the planned
test waits for 500 requests. A candidate failing one call in five is plain after a few dozen
calls, and every call before the rollback is a bad answer a user received (22-36 of them per
ramp in `rollout simulate` before this rule). The likelihood ratio of the two rates over the
candidate's calls, checked at every look, rolls back once it reaches 1 / `false_alarm`: by
Ville's inequality a candidate as good as the baseline ever gets there with chance at most
`false_alarm`, however many looks, so the rule spends a tiny, fixed part of the budget
(regression_test.gate_alpha takes it out of the planned tests' share).

The baseline's rate is the high end of its 99% Wilson interval over the same span (carried and
current window): the test is then of a slightly worse baseline, which only makes it stricter.
The counts of finished stages are carried in the state (`carried`), so the evidence does not
restart with each stage's window; the shadow phase's calls are not (another path, judged there
against the noise arm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rollout.config.plan import Plan
from rollout.control.snapshot import WindowSnapshot
from rollout.stats.gate_stats import wilson

# refusals are carried for the bake's reference (bake.py), not for this rule
FIELDS = (
    "requests",
    "errors",
    "refusals",
    "baseline_requests",
    "baseline_errors",
    "baseline_refusals",
)


def add_window(carried: Mapping[str, int], snap: WindowSnapshot) -> dict[str, int]:
    """`carried` with this (finished) stage window's live counts added."""
    window = _counts(snap)
    return {k: carried.get(k, 0) + window[k] for k in FIELDS}


def gross_regression(plan: Plan, carried: Mapping[str, int], snap: WindowSnapshot) -> str | None:
    """Why the candidate is shown grossly worse than the baseline, or None."""
    rule = plan.gross_regression
    if rule is None:
        return None
    total = add_window(carried, snap)
    n, k = total["requests"], total["errors"]
    nb, kb = total["baseline_requests"], total["baseline_errors"]
    if n == 0 or nb == 0:
        return None
    p0 = wilson(kb, nb, 0.99).high
    p1 = p0 + rule.error_rate_delta
    if p1 >= 1.0 or p0 <= 0.0:
        return None
    llr = k * math.log(p1 / p0) + (n - k) * math.log((1.0 - p1) / (1.0 - p0))
    limit = math.log(1.0 / rule.false_alarm)
    if llr < limit:
        return None
    return (
        f"gross regression: errors {k}/{n} since the first stage against the baseline's"
        f" {kb}/{nb} (<= {p0:.3g} at 99%); likelihood ratio of +{rule.error_rate_delta:g}"
        f" e^{llr:.1f} >= 1/{rule.false_alarm:g} (sequential probability-ratio test)"
    )


def _counts(snap: WindowSnapshot) -> dict[str, int]:
    return {
        "requests": snap.candidate.requests,
        "errors": snap.candidate.errors,
        "refusals": snap.candidate.refusals,
        "baseline_requests": snap.baseline.requests,
        "baseline_errors": snap.baseline.errors,
        "baseline_refusals": snap.baseline.refusals,
    }
