"""People's actions on automatic rollouts, written exactly like the controller's decisions.

Read the state document, compute the transition (rollout/control/interventions.py, pure), apply() it
with compare-and-set against the revision it was computed from: one write, an audit entry (the
person as actor, their reason, before→after, the transition's notes) and a publish, so every
replica follows within a second. When the controller (or another person) wrote in between, the
action is computed again from what is stored now; an action that no longer makes sense then is
refused (ActionRefused), never applied blind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rollout.config.plan import Plan
from rollout.config.rollouts import Rollout
from rollout.control.apply import StaleDecision, apply
from rollout.control.approvals import EVAL_APPROVAL, monitored
from rollout.control.controller import current_state
from rollout.control.decide import Decision, RolloutState
from rollout.control.eval_evidence import read_eval
from rollout.control.interventions import approve, pause, promote, resume, roll_back
from rollout.control.live_state import config_state, state_key
from rollout.control.operations import ChangeConflict
from rollout.errors import ActionRefused
from rollout.store import Store

_ATTEMPTS = 5

Transition = Callable[[Plan, RolloutState, float], Decision]


def transition(
    action: str,
    *,
    full: bool = False,
    approval: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> Transition:
    """The pure transition behind an action name: pause, resume, promote, approve, rollback.
    `evidence`: the version's recorded eval, for `approve` of `eval` (see approval())."""
    if action == "promote":
        return lambda plan, state, now: promote(plan, state, now, full=full)
    if action == "approve":
        return lambda plan, state, now: approve(plan, state, approval, now, evidence)
    simple = {"pause": pause, "resume": resume, "rollback": roll_back}
    if action not in simple:
        raise ValueError(f"unknown action {action!r}")
    return simple[action]


async def approval(store: Store, rollout: Rollout, key: str | None) -> Transition:
    """The approve transition for `key`; for `eval`, judged on the version's evidence as stored
    now (read here, so that the transition stays pure)."""
    evidence = None
    if key == EVAL_APPROVAL and rollout.plan.require_eval is not None:
        evidence = await read_eval(store, rollout.name, rollout.version)
    return transition("approve", approval=key, evidence=evidence)


async def act(
    store: Store,
    rollout: Rollout,
    change: Transition,
    *,
    actor: str,
    reason: str,
    clock: Callable[[], float] = time.time,
) -> RolloutState:
    """Apply `change` to the stored state of an automatic rollout; the state written.

    Raises ActionRefused (not automatic, an unreadable state, or the action makes no sense in
    the current phase), ChangeConflict when the document kept changing, StoreError when down.
    """
    if not rollout.plan.automatic:
        raise ActionRefused(
            f"rollout {rollout.name!r} is steered by hand (its plan is not automatic):"
            " set its weight or kill switch instead"
        )
    key = state_key(rollout.name)
    for _ in range(_ATTEMPTS):
        doc, rev = await store.documents.read(key)
        try:
            state = current_state(doc, rollout.version, rollout.plan)
        except ValueError as exc:
            raise ActionRefused(
                f"the stored state of {rollout.name!r} is unreadable: {exc}"
            ) from exc
        decision = change(rollout.plan, state, clock())
        try:
            await apply(
                store,
                rollout.name,
                rollout.version,
                decision,
                actor,
                default=config_state(rollout),
                expected_rev=rev,
                audit={"reason": reason, "by_hand": True},
            )
        except StaleDecision:
            continue
        return decision.state
    raise ChangeConflict(
        f"the state of rollout {rollout.name!r} kept changing; nothing was changed"
    )


def controller_view(doc: dict[str, Any] | None, rollout: Rollout) -> dict[str, Any]:
    """The controller's fields of a stored state document, for people: phase, stage (percent;
    None before the first stage), since, awaiting, approvals, accepted: what an approver let
    through, to be watched more closely (failed secondary gates; `eval_override`: started without
    a passing eval), and the first stage's regression test (None when the plan has none)."""
    if not rollout.plan.automatic:
        return {"automatic": False}
    try:
        state = current_state(doc, rollout.version, rollout.plan)
    except ValueError as exc:
        return {"automatic": True, "phase": None, "problem": f"unreadable state: {exc}"}
    in_stage = state.weight > 0 or state.phase in ("ramping", "baking")
    return {
        "automatic": True,
        "phase": state.phase,
        "stage": rollout.plan.stages[state.stage].percent if in_stage else None,
        "since": state.since if state.phase != "pending" else None,
        "awaiting": state.awaiting,
        "approvals": sorted(state.approvals),
        "accepted": monitored(state.approvals),
        "regression_test": _regression_test(rollout.plan, state),
    }


def _regression_test(plan: Plan, state: RolloutState) -> dict[str, Any] | None:
    test = plan.regression_test
    if test is None:
        return None
    return {
        "requests": test.requests,
        "false_alarm": test.false_alarm,
        "made": sorted(state.tested),
    }
