"""`plan.require_eval`: may a pending version start, on the evidence of its recorded eval?

Pure, for decide() and people's approvals. The controller reads the evidence of the rollout's
version (rollout/control/eval_evidence.py) into the snapshot only while a rollout whose plan
requires it is pending: the evidence is required to *start*, and a version already under way is
not stopped by a later record.

A version starts on a passing eval at the required tier or stricter; on a conditional pass an
approver accepted (`eval`); or on an approver's override of a missing or failed one
(`eval:override`), which marks the rollout for extra monitoring like an accepted secondary gate.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from rollout.config.plan import Plan
from rollout.control.approvals import EVAL_APPROVAL, EVAL_OVERRIDE
from rollout.control.eval_evidence import TIER_RANK, Standing, standing

Evidence = Mapping[str, Any] | None


def short(text: object, length: int = 12) -> str:
    return str(text)[:length]


def eval_standing(plan: Plan, evidence: Evidence) -> Standing | None:
    """The standing at the plan's required tier; None when the plan requires no eval."""
    if plan.require_eval is None:
        return None
    return standing(dict(evidence) if evidence is not None else None, plan.require_eval.tier)


def may_start(plan: Plan, approvals: Collection[str], evidence: Evidence) -> bool:
    found = eval_standing(plan, evidence)
    if found is None or found == "passed" or EVAL_OVERRIDE in approvals:
        return True
    return found == "conditional" and EVAL_APPROVAL in approvals


def waiting_reason(plan: Plan, version: str, evidence: Evidence) -> str:
    """Why a version may not start yet: `waiting for a passing eval of version abc at tier prod
    (none recorded)`."""
    assert plan.require_eval is not None
    tier = plan.require_eval.tier
    why = _why(eval_standing(plan, evidence), evidence, tier)
    return f"waiting for a passing eval of version {short(version)} at tier {tier} ({why})"


def _why(found: Standing | None, evidence: Evidence, tier: str) -> str:
    if found == "failed":
        return "the recorded one failed"
    if found == "conditional":
        return "conditional pass: needs an approver (approve --eval)"
    if evidence is None:
        return "none recorded"
    recorded = evidence.get("tier")
    if TIER_RANK.get(str(recorded), -1) < TIER_RANK[tier]:
        return f"the recorded one is at tier {recorded}, looser than {tier}"
    return f"the recorded one is {evidence.get('verdict')}: no evidence either way"


def start_note(plan: Plan, approvals: Collection[str], evidence: Evidence) -> str | None:
    """What a start rests on, said in its decision (and so in the audit); None: not required."""
    found = eval_standing(plan, evidence)
    if found is None:
        return None
    if found == "passed":
        return f"eval passed at tier {_recorded(evidence)}"
    if found == "conditional" and EVAL_APPROVAL in approvals:
        return f"eval passed conditionally at tier {_recorded(evidence)}, approved"
    return override_note(found)


def override_note(found: str | None = None) -> str:
    """Named in every decision of a version started on an override: watch it more closely."""
    what = f" ({found})" if found in ("missing", "failed") else ""
    return f"started without a passing eval{what}, overridden by an approver: extra monitoring"


def _recorded(evidence: Evidence) -> str:
    assert evidence is not None
    return f"{evidence.get('tier')} (dataset {short(evidence.get('dataset_digest'))})"


def evidence_view(plan: Plan, evidence: Evidence) -> dict[str, Any] | None:
    """The evidence of the running version, for people (status, admin API): what was recorded
    (verdict, tier, short dataset digest, who, when) and, when the plan requires an eval, the
    tier required and the standing there. None: not required and none recorded."""
    required = plan.require_eval.tier if plan.require_eval is not None else None
    if evidence is None and required is None:
        return None
    found = evidence or {}
    digest = found.get("dataset_digest")
    return {
        "required": required,
        "standing": eval_standing(plan, evidence),
        "verdict": found.get("verdict"),
        "tier": found.get("tier"),
        "dataset_digest": short(digest) if digest else None,
        "by": found.get("by"),
        "at": found.get("at"),
    }
