"""decide(plan, state, snapshot, now) -> Decision: the controller's judgement, as a pure function.

It reads the plan, the rollout's state and the window's snapshot, and returns what to do, why,
every gate's result, and the state to write. Writing it (store, audit, publish) is apply()'s job.

A pending rollout starts (shadow traffic or the first stage), unless its plan requires an eval
and the version's evidence does not allow it yet (rollout/control/eval_requirement.py): hold.

Order of a look (phases other than pending and the terminal ones):
1. catastrophe (nearly every candidate request failing) -> roll_back at once;
2. the first stage's planned regression test, once due (rollout/control/regression_test.py): a gate
   shown worse than the baseline and past its bound fails there and then;
3. a primary gate failing `plan.rollback_after` looks in a row, or its regression test ->
   roll_back (one failing look holds: the controller looks every interval, and single looks
   make false alarms add up);
4. paused -> hold (a person stopped the ramp; safety above still applies);
5. awaiting approval -> wait, or on approval enter the approved stage / resume (a secondary
   gate failing while a stage waits is asked about first);
6. a secondary gate failing, not yet accepted by an approver -> await_approval;
7. the stage's minimums (duration, candidate requests, subjects) not met -> hold;
8. baking: complete once bake_time has passed with no failing gate (at 100% there is no live
   baseline, so relative gates have no data; the ramp to 100 required them to pass);
9. every gate passing -> promote to the next stage (or await its approval); else hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from rollout.config.plan import Plan
from rollout.control.approvals import EVAL_OVERRIDE, gate_approval, stage_approval
from rollout.control.bake import bake_notes, bake_reference
from rollout.control.breach import confirmatory
from rollout.control.eval_requirement import may_start, override_note, start_note, waiting_reason
from rollout.control.gates import GateResult, catastrophe, evaluate_gates
from rollout.control.gross import add_window, gross_regression
from rollout.control.minimums import unmet_minimums
from rollout.control.regression_test import regression_tests, with_findings
from rollout.control.shadow_test import SHADOW_KEY, shadow_tests, tested_in_shadow
from rollout.control.snapshot import Snapshot, WindowSnapshot

Phase = Literal[
    "pending",
    "shadow",
    "ramping",
    "paused",
    "awaiting_approval",
    "baking",
    "complete",
    "rolled_back",
    "aborted",
]
TERMINAL: frozenset[str] = frozenset({"complete", "rolled_back", "aborted"})
# decide() never returns resume or approve: those are people's (rollout/control/interventions.py).
Action = Literal[
    "promote", "hold", "pause", "resume", "await_approval", "approve", "roll_back", "complete"
]


@dataclass(frozen=True, slots=True)
class RolloutState:
    """The controller's state of one rollout version. `since`: when the current phase or stage
    began. `failures`: consecutive failing looks per primary gate. `awaiting`: the approval key
    waited for. `tested`: the gates whose planned regression test was made ("shadow:<gate>" in
    the shadow phase). `carried`: live counts of the finished stages (gross.py). Mappings are
    never mutated: every change builds a new state."""

    version: str
    phase: Phase = "pending"
    stage: int = 0
    weight: float = 0.0
    since: float = 0.0
    failures: Mapping[str, int] = field(default_factory=dict)
    approvals: frozenset[str] = frozenset()
    awaiting: str | None = None
    tested: frozenset[str] = frozenset()
    carried: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reasons: tuple[str, ...]
    gates: tuple[GateResult, ...]
    state: RolloutState  # the state to write (equal to the input when nothing changes)


def resume_phase(plan: Plan, state: RolloutState) -> Phase:
    """Where a paused or approved rollout carries on, from its weight."""
    if state.weight <= 0.0:
        return "shadow" if plan.shadow is not None else "pending"
    return "baking" if state.stage >= len(plan.stages) - 1 else "ramping"


def decide(plan: Plan, state: RolloutState, snap: WindowSnapshot, now: float) -> Decision:
    if state.phase in TERMINAL:
        return Decision("hold", (f"{state.phase}: nothing to decide",), (), state)
    if state.phase == "pending":
        return _start(plan, state, snap, now)
    in_shadow = state.phase == "shadow" or (state.phase != "ramping" and state.weight <= 0.0)
    cand = snap.shadow if in_shadow else snap.candidate
    boom = catastrophe(cand, plan.catastrophe)
    if not boom and not in_shadow:  # across stages, without waiting for min_sample
        boom = gross_regression(plan, state.carried, snap)
    if boom:
        return _roll_back(state, now, (boom,), ())
    # Shadow pairs are judged in the shadow phase; during the ramp, live traffic is. Mirrored
    # calls are compared with the noise arm, baseline calls on the same path (shadow_test.py).
    if in_shadow:
        pairs, ref = (snap.noise, snap.shadow), snap.noise
        tests = shadow_tests(plan, state, snap.noise, cand)
        made = {SHADOW_KEY + t.gate for t in tests}
    else:
        pairs, ref = None, snap.baseline
        if state.phase == "baking" and snap.baseline.requests == 0:  # bake.py
            ref = bake_reference(state.carried)
        tests = regression_tests(plan, state, snap.baseline, cand)
        made = {t.gate for t in tests}
    results = confirmatory(plan, evaluate_gates(plan, ref, cand, pairs), cand.requests, in_shadow)
    if tests:
        results = with_findings(results, tests)
        state = replace(state, tested=state.tested | made)
    decision = _judge(plan, state, snap, cand, results, now, {t.gate for t in tests if t.worse})
    if decision.action == "promote" and not in_shadow:  # the stage's evidence goes on
        carried = add_window(state.carried, snap)
        decision = replace(decision, state=replace(decision.state, carried=carried))
    # Tests that found nothing are said too (after what was decided): they were made once.
    passed = tuple(t.reason for t in tests if not t.worse)
    return replace(decision, reasons=(*decision.reasons, *passed)) if passed else decision


def _start(plan: Plan, state: RolloutState, snap: WindowSnapshot, now: float) -> Decision:
    """Shadow traffic or the first stage; with `plan.require_eval`, only on the evidence
    (rollout/control/eval_requirement.py): no candidate call before it."""
    if not may_start(plan, state.approvals, snap.evidence):
        return Decision("hold", (waiting_reason(plan, state.version, snap.evidence),), (), state)
    note = start_note(plan, state.approvals, snap.evidence)
    said = (note,) if note else ()
    if plan.shadow is not None:
        start = replace(state, phase="shadow", since=now, failures={})
        return Decision("promote", ("start: shadow traffic to the candidate", *said), (), start)
    return _enter(plan, state, 0, now, (), ("start", *said))


def _judge(
    plan: Plan,
    state: RolloutState,
    snap: WindowSnapshot,
    cand: Snapshot,
    results: tuple[GateResult, ...],
    now: float,
    worse: set[str],
) -> Decision:
    failures = _count_failures(state.failures, results)
    breached = [
        r
        for r in results
        if r.klass == "primary"
        and r.verdict == "fail"
        and (r.gate in worse or failures[r.gate] >= plan.rollback_after)
    ]
    if breached:
        reasons = tuple(
            f"{r.gate}: {r.reason}"
            if r.gate in worse
            else f"{r.gate} failed {failures[r.gate]} looks: {r.reason}"
            for r in breached
        )
        return _roll_back(state, now, reasons, results)
    state = replace(state, failures=failures)
    if state.phase == "paused":
        return Decision("hold", ("paused: resume to carry on",), results, state)
    if state.phase == "awaiting_approval":
        return _awaiting(plan, state, snap, cand, results, now)
    return _progress(plan, state, snap, cand, results, now)


def _count_failures(before: Mapping[str, int], results: tuple[GateResult, ...]) -> dict[str, int]:
    """Consecutive failing looks of the primary gates: a fail adds one, anything else starts
    again from zero. Secondary gates are not counted: nothing reads their count, and one going up
    look after look while an approver is awaited would be a change to write and audit each look."""
    return {
        r.gate: before.get(r.gate, 0) + 1 if r.verdict == "fail" else 0
        for r in results
        if r.klass == "primary"
    }


def rolled_back(state: RolloutState, now: float) -> RolloutState:
    """Everyone back on the baseline; terminal for this version."""
    return replace(state, phase="rolled_back", weight=0.0, since=now, awaiting=None)


def _roll_back(
    state: RolloutState, now: float, reasons: tuple[str, ...], results: tuple[GateResult, ...]
) -> Decision:
    return Decision("roll_back", reasons, results, rolled_back(state, now))


def entered(plan: Plan, state: RolloutState, index: int, now: float) -> RolloutState:
    """The state once stage `index` is entered: its weight, a fresh stage clock and counts."""
    return replace(
        state,
        phase="baking" if index == len(plan.stages) - 1 else "ramping",
        stage=index,
        weight=plan.stages[index].percent / 100.0,
        since=now,
        failures={},
        awaiting=None,
    )


def _enter(
    plan: Plan,
    state: RolloutState,
    index: int,
    now: float,
    results: tuple[GateResult, ...],
    reasons: tuple[str, ...],
) -> Decision:
    """Move to stage `index`, or wait for its approval first."""
    percent = plan.stages[index].percent
    key = stage_approval(percent)
    if percent in plan.approve_before and key not in state.approvals:
        waiting = replace(state, phase="awaiting_approval", awaiting=key)
        return Decision(
            "await_approval", (*reasons, f"approval needed before {percent:g}%"), results, waiting
        )
    after = entered(plan, state, index, now)
    return Decision("promote", (*reasons, f"to {percent:g}%"), results, after)


def _awaiting(
    plan: Plan,
    state: RolloutState,
    snap: WindowSnapshot,
    cand: Snapshot,
    results: tuple[GateResult, ...],
    now: float,
) -> Decision:
    key = state.awaiting
    if key is None or key.startswith("stage:"):
        # The gates passed when the stage's approval was asked for. A secondary one failing since
        # (the first stage's regression test fails it at one look only) is asked about first:
        # approving the stage must not let it through unseen. A failing primary was seen above.
        failed = _secondary_failure(state, results)
        if failed is not None:
            return failed
    if key is None or key not in state.approvals:
        return Decision("await_approval", (f"waiting for approval {key}",), results, state)
    if key.startswith("stage:"):
        percents = [stage_approval(s.percent) for s in plan.stages]
        if key in percents:
            return _enter(plan, state, percents.index(key), now, results, (f"approved {key}",))
    resumed = replace(state, phase=resume_phase(plan, state), awaiting=None)
    return _progress(plan, resumed, snap, cand, results, now)


def _secondary_failure(state: RolloutState, results: tuple[GateResult, ...]) -> Decision | None:
    """Wait for an approver of the first failing secondary gate none has accepted, or None."""
    for r in results:
        key = gate_approval(r.gate)
        if r.klass == "secondary" and r.verdict == "fail" and key not in state.approvals:
            waiting = replace(state, phase="awaiting_approval", awaiting=key)
            reason = f"secondary gate {r.gate} failed: {r.reason}"
            return Decision("await_approval", (reason,), results, waiting)
    return None


def _progress(
    plan: Plan,
    state: RolloutState,
    snap: WindowSnapshot,
    cand: Snapshot,
    results: tuple[GateResult, ...],
    now: float,
) -> Decision:
    # Secondary gates an approver accepted no longer hold the ramp; their failures are named in
    # every decision so the people watching keep an eye on them.
    accepted = {
        r.gate
        for r in results
        if r.klass == "secondary" and gate_approval(r.gate) in state.approvals
    }
    blocking = [r for r in results if r.gate not in accepted]
    if state.phase == "shadow":  # its test found them no worse; the first stage judges them
        settled = tested_in_shadow(state)
        blocking = [r for r in blocking if r.gate not in settled or r.verdict == "fail"]
    failed = _secondary_failure(state, results)
    if failed is not None:
        return failed
    notes = tuple(
        f"{r.gate} failing, accepted by an approver: {r.reason}"
        for r in results
        if r.gate in accepted and r.verdict == "fail"
    ) + ((override_note(),) if EVAL_OVERRIDE in state.approvals else ())
    failing = tuple(
        f"{r.gate} failed {state.failures[r.gate]} of {plan.rollback_after} looks: {r.reason}"
        for r in blocking
        if r.verdict == "fail"
    )
    unmet = unmet_minimums(plan, state, snap, cand, now)
    if state.phase == "baking":
        if unmet or failing:
            return Decision("hold", (*notes, *failing, *unmet), results, state)
        done = replace(state, phase="complete", since=now, failures={})
        baked = ("baked at 100%", *bake_notes(state.carried, results, snap.baseline.requests > 0))
        return Decision("complete", (*notes, *baked), results, done)
    waiting_on = tuple(
        f"{r.gate} {r.verdict}: {r.reason}"
        for r in blocking
        if r.verdict in ("inconclusive", "no_data")
    )
    if unmet or failing or waiting_on:
        return Decision("hold", (*notes, *failing, *unmet, *waiting_on), results, state)
    next_index = 0 if state.phase == "shadow" else _next_stage(plan, state)
    return _enter(plan, state, next_index, now, results, (*notes, "every gate passed"))


def _next_stage(plan: Plan, state: RolloutState) -> int:
    """The stage after the current one, or the current one while the weight is still below it:
    the stage list was edited under a running rollout (its weight is kept, and its new first
    stage must not be skipped)."""
    if state.weight < plan.stages[state.stage].percent / 100.0 - 1e-9:
        return state.stage
    return state.stage + 1
