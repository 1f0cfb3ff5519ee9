"""The first stage's planned regression test: one test per gate relative to the baseline, made
once, when the candidate has served `plan.regression_test.requests` requests in the first stage.

Why a planned test and not a test at every look. A gate's breach test (gates.py) asks whether
the candidate is shown past its bound; a candidate as good as the baseline sits a whole bound
away from that, so looking at it every interval costs next to nothing, but a regression of
twice the bound is shown only after 1,000-1,500 requests. Asking "is it worse than the
baseline at all?" finds that regression at a third of the requests, but a good candidate sits
right on "no change": asked every interval, for a whole ramp, some answers come out "worse" by
chance (2-4% of simulated good ramps were rolled back that way, docs/controller.md). Asked once,
the question has a false-alarm rate that is simply its level: `false_alarm` over the plan's
relative gates, an equal share each (a union bound: the rate over all of them together is at
most the sum). The first stage is where a regression should be caught, before more users see it.

A gate fails the test when the candidate is shown worse than the baseline at its share AND its
plain estimate is past the bound (a candidate worse than the baseline but within what the plan
allows is not rolled back). How "worse" is shown, by the metric's kind:
- proportions: Fisher's exact test on the bad outcomes (errors, refusals, invalid JSON), exact at
  any count: at a few events, intervals from normal approximations fail good candidates 2-3
  times more often than their level says (tests/rollout/control/test_regression_test.py);
- quantiles and cost: the change's interval (gates.py) at the one-sided level excludes no change.
Until both sides have the gate's samples the test waits for a later look.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from rollout.config.gates import Bound, Gate
from rollout.config.metrics import METRICS
from rollout.config.plan import Plan
from rollout.control.gates import (
    GateResult,
    estimate_past_bound,
    live_gates,
    missing_data,
    proportion_counts,
    tested_interval,
)
from rollout.control.snapshot import Snapshot
from rollout.stats.gate_stats import more_hits_p_value


class RolloutStateLike(Protocol):
    """What the test reads of decide.RolloutState (which imports this module)."""

    @property
    def phase(self) -> str: ...
    @property
    def stage(self) -> int: ...
    @property
    def tested(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One gate's planned test: shown worse (and past its bound) or not, and why."""

    gate: str
    worse: bool
    reason: str


def relative_gates(plan: Plan) -> list[Gate]:
    """The gates the test applies to: bounds relative to the baseline, on live traffic."""
    return [
        g
        for g in live_gates(plan)
        if g.bound_for(plan.tier).kind.endswith("_to_baseline") and not METRICS[g.metric].pairs
    ]


# The budget is spent where power is missing, by a weight per kind of metric, fixed with the
# plan: at an equal share (0.25% of 1% over four gates) `rollout simulate` measured p95 +30%
# caught in 92-95% and cost +25% in 100% of runs by the deadline, errors +2 pp in 70% and
# refusals +3 pp in 84%. A rate regression gains more power from a larger share than a quantile
# or cost regression loses from a smaller one (docs/controller.md, "Budget by need").
NEED_WEIGHT = {"proportion": 2.0, "quantile": 1.0, "cost": 1.0}


def gate_alpha(plan: Plan, gate: Gate | None = None) -> float:
    """One relative gate's share of `regression_test.false_alarm` at one planned test (the first
    relative gate's when none is named): by NEED_WEIGHT among the gates. With a shadow phase
    the test is made there (shadow_test.py) instead of in the first stage, at the same share:
    one test per gate either way. The gross-regression rule's part (gross.py) is taken out
    first."""
    test, gates = plan.regression_test, relative_gates(plan)
    if test is None or not gates:
        return 0.0
    gross = plan.gross_regression.false_alarm if plan.gross_regression is not None else 0.0
    total = sum(NEED_WEIGHT[METRICS[g.metric].kind] for g in gates)
    weight = NEED_WEIGHT[METRICS[(gate or gates[0]).metric].kind]
    return (test.false_alarm - gross) * weight / total


def regression_tests(
    plan: Plan, state: RolloutStateLike, base: Snapshot, cand: Snapshot
) -> tuple[Finding, ...]:
    """The tests due at this look: every relative gate not tested yet, once the first stage's
    candidate has served enough requests and the gate has its samples. While paused, a
    secondary gate's test waits for the resume: a pause cannot turn into a wait for its
    approver, and the test is made once, so its finding would be lost (a primary gate's rolls
    back, paused or not)."""
    test = plan.regression_test
    if test is None or state.stage != 0 or cand.requests < test.requests:
        return ()
    due = []
    for gate in relative_gates(plan):
        bound = gate.bound_for(plan.tier)
        if _made(gate.key, state) or (state.phase == "paused" and gate.klass != "primary"):
            continue
        if missing_data(gate.metric, bound, base, cand, gate.min_sample):
            continue
        due.append(planned_test(gate, bound, base, cand, gate_alpha(plan, gate)))
    return tuple(due)


def regression_test_unmet(plan: Plan, state: RolloutStateLike, cand: Snapshot) -> str | None:
    """Why the first stage may not end yet for its test, or None. Nothing skips the test: a
    first stage whose own minimums are met before `requests` candidate requests (min_requests
    below it, or gates shown within their bounds early) holds until every relative gate was
    tested; promoted untested, a regression would reach the next stage unseen."""
    test = plan.regression_test
    if test is None or state.stage != 0 or state.phase == "shadow":
        return None
    untested = [g.key for g in relative_gates(plan) if not _made(g.key, state)]
    if not untested:
        return None
    if cand.requests < test.requests:
        return f"regression test at {test.requests} candidate requests: {cand.requests} so far"
    return f"regression test not made yet for {', '.join(untested)} (too few samples)"


def _made(gate: str, state: RolloutStateLike) -> bool:
    """The gate's test was made, in the first stage or in the shadow phase ("shadow:<gate>"):
    a candidate tested on its mirrored calls is not tested again on users' calls. Two tests of
    one gate would roll back a candidate at its bound twice as often (each finds it past the
    bound about half the time), and split the gate's share between them."""
    return gate in state.tested or f"shadow:{gate}" in state.tested


def with_findings(
    results: tuple[GateResult, ...], findings: tuple[Finding, ...]
) -> tuple[GateResult, ...]:
    """The gates' results of this look, those shown worse by their test failing with its reason.
    A gate its trade-off waives stays waived: the plan accepts it worse for that drop."""
    worse = {f.gate: f.reason for f in findings if f.worse}
    return tuple(
        replace(r, verdict="fail", reason=worse[r.gate])
        if r.gate in worse and r.waived is None
        else r
        for r in results
    )


def planned_test(
    gate: Gate,
    bound: Bound,
    base: Snapshot,
    cand: Snapshot,
    alpha: float,
    where: str = "",
) -> Finding:
    metric = gate.metric
    if METRICS[metric].kind == "proportion":
        shown, evidence = _proportion_worse(metric, base, cand, alpha)
    else:
        shown, evidence = _interval_worse(metric, bound, base, cand, alpha)
    past = estimate_past_bound(metric, bound, base, cand)
    head = where or f"regression test at {cand.requests} candidate requests"
    head = f"{head}: {metric}"
    if not shown:
        return Finding(gate.key, False, f"{head} not shown worse than the baseline ({evidence})")
    if not past:
        return Finding(
            gate.key,
            False,
            f"{head} worse than the baseline ({evidence}) but its estimate is within"
            f" {bound.describe()}",
        )
    return Finding(
        gate.key,
        True,
        f"{head} worse than the baseline ({evidence}) and past {bound.describe()}",
    )


def _proportion_worse(
    metric: str, base: Snapshot, cand: Snapshot, alpha: float
) -> tuple[bool, str]:
    (hits_c, n_c), (hits_b, n_b) = proportion_counts(metric, cand), proportion_counts(metric, base)
    if METRICS[metric].better == "higher":  # the bad outcome is the miss (invalid JSON)
        hits_c, hits_b = n_c - hits_c, n_b - hits_b
    p = more_hits_p_value((hits_c, n_c), (hits_b, n_b))
    sign = "<=" if p <= alpha else ">"
    hits = METRICS[metric].source.split("/")[0]
    bad = f"not {hits}" if METRICS[metric].better == "higher" else hits
    return p <= alpha, (
        f"{bad}: candidate {hits_c}/{n_c}, baseline {hits_b}/{n_b};"
        f" p = {p:.2g} {sign} {alpha:.2g}, Fisher's exact test"
    )


def _interval_worse(
    metric: str, bound: Bound, base: Snapshot, cand: Snapshot, alpha: float
) -> tuple[bool, str]:
    level = 1.0 - 2.0 * alpha  # two-sided, so that its low end errs with chance alpha
    tested, interval = tested_interval(metric, bound, base, cand, level)
    neutral = 1.0 if bound.kind == "max_ratio_to_baseline" else 0.0
    return interval.low > neutral, (
        f"{tested} {interval.value:.4g} in [{interval.low:.4g}, {interval.high:.4g}]"
        f" at {level * 100:.4g}%"
    )
