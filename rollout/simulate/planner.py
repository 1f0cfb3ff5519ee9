"""`rollout simulate --plan FILE`: what a rollout's shadow-phase test needs, from its plan.

For each gate the planned test judges (relative to the baseline), at the share of the budget
the plan gives it (regression_test.gate_alpha): how many shadow calls on each side (the
candidate's and the noise arm's) a test of a regression of twice the bound needs for 90% power,
the power the configured `shadow.test_requests` gives, and the minutes the shadow phase takes to
reach them at each request rate, given the mirror's `share` and `noise_share` (the slower side,
usually the noise arm, sets the pace). Proportions only: a rate and its regression have a
closed form (the normal approximation of the two-sample test); quantile and cost gates are
listed without one (`rollout simulate` measures them).

The baseline's rates are the simulator's (1% errors, 2% refusals) unless given.
"""

from __future__ import annotations

from dataclasses import dataclass

from rollout.config.gates import Gate
from rollout.config.metrics import METRICS
from rollout.config.rollouts import Rollout
from rollout.control.regression_test import gate_alpha, relative_gates
from rollout.simulate.limit import two_sample_power, two_sample_requests
from rollout.simulate.streams import BASELINE

POWER = 0.9
BASELINE_RATES = {"error_rate": BASELINE.error_rate, "refusal_rate": BASELINE.refusal_rate}


@dataclass(frozen=True, slots=True)
class PlanRow:
    gate: str
    share: float  # of the false-alarm budget
    baseline: float | None  # the baseline's rate; None: not a rate
    regression: float | None  # the rate of a regression of twice the bound
    needed: int | None  # shadow calls on each side for POWER
    configured: int | None  # shadow.test_requests
    power: float | None  # at the configured size
    minutes: dict[float, float]  # request rate -> minutes to the configured size


def _regression(gate: Gate, rollout: Rollout, p0: float) -> float:
    bound = gate.bound_for(rollout.plan.tier)
    if bound.kind == "max_ratio_to_baseline":
        return p0 * (1.0 + 2.0 * (bound.limit - 1.0))
    return p0 + 2.0 * bound.limit


def plan_rows(rollout: Rollout, rates: tuple[float, ...]) -> list[PlanRow]:
    """One row per gate the planned test judges."""
    plan = rollout.plan
    configured = plan.shadow.test_requests if plan.shadow is not None else None
    mirror = rollout.shadow
    share, noise = (mirror.share, mirror.noise_share) if mirror is not None else (0.0, 0.0)
    per_second = min(share, share * noise)  # the slower side: calls/s per request/s
    rows = []
    for gate in relative_gates(plan):
        alpha = gate_alpha(plan, gate)
        p0 = BASELINE_RATES.get(gate.metric)
        rate = METRICS[gate.metric].kind == "proportion" and p0 is not None
        p1 = _regression(gate, rollout, p0) if rate and p0 is not None else None
        minutes = {
            r: configured / (r * per_second) / 60.0
            for r in rates
            if configured is not None and per_second > 0
        }
        rows.append(
            PlanRow(
                gate=gate.key,
                share=alpha,
                baseline=p0 if rate else None,
                regression=p1,
                needed=two_sample_requests(p0, p1, alpha, POWER) if p0 and p1 else None,
                configured=configured,
                power=two_sample_power(p0, p1, configured, alpha)
                if p0 and p1 and configured
                else None,
                minutes=minutes,
            )
        )
    return rows
