"""What people do to an automatic rollout: pause, resume, promote, approve, roll back.

Pure functions over (plan, state, now), next to decide(): each returns the Decision to apply
(rollout/control/apply.py writes, audits and publishes it) or raises ActionRefused with a
sentence that says why the action makes no sense now. The rules:

- pause: any running phase (not pending, not already paused, not finished). The weight stays and
  so does the stage clock (the candidate keeps serving, so its data still counts); decide() still
  rolls back while paused. A pending approval is kept for after the resume.
- resume: only a paused rollout; back to awaiting approval if it was waiting, else to the phase
  its weight says (resume_phase).
- promote: enter the next stage now (from shadow: the first), or with `full` the last (100%,
  baking); at 100% a plain promote skips the rest of the bake (complete). Never past a stage in
  `approve_before` that no approver approved, and not while a failed secondary gate waits for one.
- approve: the awaited `stage:<p>` (entered at once) or `gate:<name>` (a failed secondary gate,
  accepted and from then on named in every decision: extra monitoring); a stage further up the
  ramp may be approved ahead. Primary gates cannot be approved: their failures roll back.
  `eval` (a pending rollout whose plan requires an eval, judged on the version's evidence as
  stored now): a conditional pass is accepted (`eval`); a missing or failed eval is overridden
  (`eval:override`: extra monitoring, like an accepted gate). The controller starts the version
  at its next look.
- roll_back: any phase but rolled back or aborted (a complete rollout may still be rolled back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from rollout.config.plan import Plan
from rollout.control.approvals import EVAL_APPROVAL
from rollout.control.decide import (
    TERMINAL,
    Decision,
    RolloutState,
    entered,
    gate_approval,
    resume_phase,
    rolled_back,
    stage_approval,
)
from rollout.control.eval_approval import approve_eval
from rollout.errors import ActionRefused


def pause(plan: Plan, state: RolloutState, now: float) -> Decision:
    _refuse_unless_running(state, "pause")
    if state.phase == "paused":
        raise ActionRefused("already paused")
    after = replace(state, phase="paused")
    return Decision("pause", (f"paused at {_pct(state.weight)}",), (), after)


def resume(plan: Plan, state: RolloutState, now: float) -> Decision:
    if state.phase != "paused":
        raise ActionRefused(f"not paused (phase {state.phase}): nothing to resume")
    phase = "awaiting_approval" if state.awaiting else resume_phase(plan, state)
    after = replace(state, phase=phase)
    return Decision("resume", (f"resumed: {phase} at {_pct(state.weight)}",), (), after)


def promote(plan: Plan, state: RolloutState, now: float, *, full: bool = False) -> Decision:
    _refuse_unless_running(state, "promote")
    if state.phase == "paused":
        raise ActionRefused("paused: resume it first")
    if state.awaiting and state.awaiting.startswith("gate:"):
        raise ActionRefused(
            f"waiting for an approver to accept the failed secondary gate"
            f" {state.awaiting.removeprefix('gate:')}: approve it first"
        )
    last = len(plan.stages) - 1
    if state.phase == "baking":
        if full:
            raise ActionRefused("already at 100% (baking)")
        done = replace(state, phase="complete", since=now, failures={})
        return Decision("promote", ("bake skipped: complete",), (), done)
    target = last if full else (state.stage + 1 if state.weight > 0 else 0)
    percent = plan.stages[target].percent
    missing = [
        p
        for p in plan.approve_before
        if state.weight * 100 < p <= percent and stage_approval(p) not in state.approvals
    ]
    if missing:
        listed = ", ".join(f"{p:g}%" for p in missing)
        raise ActionRefused(
            f"entering {listed} needs an approver first (approve --stage {missing[0]:g})"
        )
    after = entered(plan, state, target, now)
    return Decision("promote", (f"promoted to {percent:g}%",), (), after)


def approve(
    plan: Plan,
    state: RolloutState,
    key: str | None,
    now: float,
    evidence: Mapping[str, Any] | None = None,
) -> Decision:
    """`key`: `stage:<percent>`, `gate:<name>`, `eval`, or None for whatever the rollout waits
    for. `evidence`: the version's recorded eval (read for `eval` only)."""
    if state.phase in TERMINAL:
        raise ActionRefused(f"the rollout is {state.phase}: nothing to approve")
    if key == EVAL_APPROVAL:
        return approve_eval(plan, state, evidence)
    key = key or state.awaiting
    if key is None:
        raise ActionRefused("nothing awaits approval")
    if key in state.approvals:
        raise ActionRefused(f"{key} is already approved")
    if key.startswith("gate:"):
        return _accept_gate(plan, state, key.removeprefix("gate:"))
    if key.startswith("stage:"):
        return _approve_stage(plan, state, key, now)
    raise ActionRefused(f"not an approval: {key!r} (stage:<percent>, gate:<name> or eval)")


def roll_back(plan: Plan, state: RolloutState, now: float) -> Decision:
    if state.phase in ("rolled_back", "aborted"):
        raise ActionRefused(f"already {state.phase.replace('_', ' ')}")
    return Decision("roll_back", ("rolled back by hand",), (), rolled_back(state, now))


def _accept_gate(plan: Plan, state: RolloutState, gate: str) -> Decision:
    gates = {g.key: g for g in plan.gates}
    if gate not in gates:
        raise ActionRefused(f"no gate named {gate!r} in the plan (gates: {', '.join(gates)})")
    if gates[gate].klass == "primary":
        raise ActionRefused(f"{gate} is a primary gate: its failures roll back, not wait")
    key = gate_approval(gate)
    if state.awaiting != key:
        raise ActionRefused(f"gate {gate} is not waiting for approval ({_waiting(state)})")
    # Paused: stays paused (the resume goes on from the weight); else the ramp carries on.
    phase = "paused" if state.phase == "paused" else resume_phase(plan, state)
    after = replace(state, phase=phase, awaiting=None, approvals=state.approvals | {key})
    note = f"accepted the failing secondary gate {gate}: marked for extra monitoring"
    return Decision("approve", (note,), (), after)


def _approve_stage(plan: Plan, state: RolloutState, key: str, now: float) -> Decision:
    keys = [stage_approval(s.percent) for s in plan.stages]
    if key not in keys:
        raise ActionRefused(f"{key.removeprefix('stage:')} is not a stage of the plan")
    index = keys.index(key)
    percent = plan.stages[index].percent
    if percent not in plan.approve_before:
        raise ActionRefused(f"stage {percent:g}% needs no approval")
    if state.weight * 100 >= percent:
        raise ActionRefused(f"already at or past {percent:g}%")
    approved = replace(state, approvals=state.approvals | {key})
    if state.phase == "awaiting_approval" and state.awaiting == key:
        after = entered(plan, approved, index, now)
        return Decision("approve", (f"approved {key}: to {percent:g}%",), (), after)
    when = "on resume" if state.awaiting == key else "when the ramp gets there"
    return Decision("approve", (f"approved {key} ahead: entered {when}",), (), approved)


def _refuse_unless_running(state: RolloutState, action: str) -> None:
    if state.phase in TERMINAL:
        raise ActionRefused(f"the rollout is {state.phase.replace('_', ' ')}: nothing to {action}")
    if state.phase == "pending":
        raise ActionRefused(
            f"not started yet (the controller starts it at its next look): nothing to {action}"
        )


def _waiting(state: RolloutState) -> str:
    return f"waiting for {state.awaiting}" if state.awaiting else "nothing awaits approval"


def _pct(weight: float) -> str:
    return f"{round(weight * 100, 2):g}%"
