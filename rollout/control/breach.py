"""Breaches inside the budget: below the planned test's size, a breach of a gate relative to the
baseline is not counted towards a rollback.

Why. A breach (gates.py: the interval at the rollback confidence wholly past the bound) is
asked at every look, and each stage's window starts again from nothing. At a hundred requests
its normal-approximation interval errs far more often than its level says (a 1% error rate
shows 6 errors in 100 about 5 times in 10,000), and a ramp makes dozens of such looks: false
alarms outside the budget the planned tests keep to. Below the test's size (the first stage's
`regression_test.requests`, the shadow phase's `test_requests`) the candidate is judged by
rules whose false alarms are counted: the planned tests (regression_test.py, shadow_test.py),
the gross-regression rule (gross.py) and the catastrophe rule. From that size on, a breach of a
candidate as good as the baseline needs it to look three bound-widths worse (about one chance
in a million per look at 500 requests), and breaches guard the rest of the ramp as before.
A gate whose breach is set aside says so, and is inconclusive: it does not pass.
"""

from __future__ import annotations

from dataclasses import replace

from rollout.config.plan import Plan
from rollout.control.gates import GateResult
from rollout.control.regression_test import relative_gates


def counted_size(plan: Plan, in_shadow: bool) -> int:
    """The candidate requests from which a relative gate's breach counts (0: always)."""
    if plan.regression_test is None:
        return 0
    if in_shadow:
        return plan.shadow.test_requests if plan.shadow is not None else 0
    return plan.regression_test.requests


def confirmatory(
    plan: Plan, results: tuple[GateResult, ...], requests: int, in_shadow: bool
) -> tuple[GateResult, ...]:
    """The results with breaches below the counted size made inconclusive, saying why."""
    size = counted_size(plan, in_shadow)
    if requests >= size:
        return results
    relative = {g.key for g in relative_gates(plan)}
    return tuple(
        replace(
            r,
            verdict="inconclusive",
            reason=f"{r.reason} (a breach at {requests} of {size} candidate requests is not"
            " counted: below the planned test's size)",
        )
        if r.verdict == "fail" and r.gate in relative and r.waived is None
        else r
        for r in results
    )
