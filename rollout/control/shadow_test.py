"""The shadow phase's planned regression test: the first stage's test (regression_test.py), made
once before any user sees the candidate, on mirrored calls.

Why against the noise arm. A mirrored call takes its own path: its own timeout, the shadow
queue, drops when the CPU is busy. Compared with the live baseline, a candidate as good as the
baseline looks worse by whatever that path adds, and the shadow phase would roll back good
candidates whenever the mirror path is unwell. The noise arm is a second baseline call on the
same path, which the product already sends for the disagreement gates: the candidate's shadow
calls against it differ only by the candidate. So in the shadow phase every gate relative to the
baseline is judged against the noise arm (decide.py), and this test is too.

Why a planned test. As in the first stage, "worse than the baseline" asked at every look would
spend the false-alarm budget many times over; asked once, when both the candidate's shadow calls
and the noise arm's number `plan.shadow.test_requests`, its false-alarm rate is its level
(`gate_alpha`). It replaces the first stage's test for the gates it made: the same question on
the same candidate, asked before any user is exposed, so its share is not split with a second
test, and a candidate at its bound is not put to the coin toss of "past the bound?" twice. The
noise sample must be sized for it: with `noise_share` 0.1 the noise arm reaches the count ten
times later.

Nothing skips it: the shadow phase holds until the test is made (a gate without the samples to be
tested holds it too), and a gate shown worse and past its bound rolls back in shadow. A gate the
test found no worse does not have to pass on the shadow path to end the phase: showing a +1 pp
bound at 95% against a noise arm of equal size would take ~7,600 shadow requests; the first
stage judges it again on live traffic.
"""

from __future__ import annotations

from rollout.config.plan import Plan
from rollout.control.gates import missing_data
from rollout.control.regression_test import (
    Finding,
    RolloutStateLike,
    gate_alpha,
    planned_test,
    relative_gates,
)
from rollout.control.snapshot import Snapshot

SHADOW_KEY = "shadow:"  # how RolloutState.tested names a gate tested in the shadow phase


def shadow_tests(
    plan: Plan, state: RolloutStateLike, noise: Snapshot, shadow: Snapshot
) -> tuple[Finding, ...]:
    """The shadow tests due at this look: every relative gate not tested in shadow yet, once
    both arms have `test_requests` calls and the gate has its samples."""
    if plan.shadow is None or plan.regression_test is None or not _enough(plan, noise, shadow):
        return ()
    where = (
        f"shadow test at {shadow.requests} shadow requests"
        f" against {noise.requests} of the noise arm"
    )
    due = []
    for gate in relative_gates(plan):
        bound = gate.bound_for(plan.tier)
        if SHADOW_KEY + gate.key in state.tested:
            continue
        if missing_data(gate.metric, bound, noise, shadow, gate.min_sample):
            continue
        due.append(planned_test(gate, bound, noise, shadow, gate_alpha(plan, gate), where))
    return tuple(due)


def tested_in_shadow(state: RolloutStateLike) -> set[str]:
    """The gates whose shadow test was made (and found nothing: a finding rolled back)."""
    return {key[len(SHADOW_KEY) :] for key in state.tested if key.startswith(SHADOW_KEY)}


def shadow_test_unmet(
    plan: Plan, state: RolloutStateLike, noise: Snapshot, shadow: Snapshot
) -> str | None:
    """Why the shadow phase cannot end yet for its test, or None."""
    if plan.shadow is None or plan.regression_test is None:
        return None
    untested = [g.key for g in relative_gates(plan) if g.key not in tested_in_shadow(state)]
    if not untested:
        return None
    need = plan.shadow.test_requests
    if not _enough(plan, noise, shadow):
        return (
            f"shadow test waits for {need} calls on each side: candidate {shadow.requests},"
            f" noise arm {noise.requests}"
        )
    return f"shadow test not made yet for {', '.join(untested)} (too few samples)"


def _enough(plan: Plan, noise: Snapshot, shadow: Snapshot) -> bool:
    assert plan.shadow is not None
    need = plan.shadow.test_requests
    return shadow.requests >= need and noise.requests >= need
