"""`approve --eval`: a person's word on a pending version whose plan requires an eval.

Pure, like the other actions (rollout/control/interventions.py), but judged on the version's
evidence as stored when the person acts: a conditional pass is accepted (`eval`); a missing or
failed eval is overridden (`eval:override`), which the decision says (and so the audit, with
the person's reason) and which marks the rollout for extra monitoring, as an accepted secondary
gate is (rollout/control/approvals.py `monitored`). A passing eval needs no one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from rollout.config.plan import Plan
from rollout.control.approvals import EVAL_APPROVAL, EVAL_OVERRIDE
from rollout.control.decide import Decision, RolloutState
from rollout.control.eval_requirement import eval_standing, short
from rollout.errors import ActionRefused


def approve_eval(plan: Plan, state: RolloutState, evidence: Mapping[str, Any] | None) -> Decision:
    found = eval_standing(plan, evidence)
    if found is None:
        raise ActionRefused("the plan requires no eval (plan.require_eval): nothing to approve")
    if state.phase != "pending":
        raise ActionRefused(
            f"already started ({state.phase}): the eval is required to start, nothing to approve"
        )
    if EVAL_OVERRIDE in state.approvals:
        raise ActionRefused("the eval is already overridden by an approver")
    assert plan.require_eval is not None
    tier, version = plan.require_eval.tier, short(state.version)
    if found == "passed":
        raise ActionRefused(
            f"the eval of version {version} passed at tier {tier}: nothing to approve"
        )
    if found == "conditional":
        if EVAL_APPROVAL in state.approvals:
            raise ActionRefused(f"{EVAL_APPROVAL} is already approved")
        note = f"approved the conditional pass of version {version}'s eval at tier {tier}"
        key = EVAL_APPROVAL
    else:
        note = (
            f"overrode the {found} eval of version {version} at tier {tier}:"
            " to start without a passing eval, marked for extra monitoring"
        )
        key = EVAL_OVERRIDE
    after = replace(state, approvals=state.approvals | {key})
    return Decision("approve", (note,), (), after)
