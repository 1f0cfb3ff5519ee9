"""plan.require_eval in decide() and in `approve --eval`: a pending version starts only on its
recorded eval (passed; a conditional pass an approver accepted; an approver's override), and a
version already under way is not affected. Pure: tables."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rollout.config.plan import Plan, RequireEval, Shadow
from rollout.control.approvals import EVAL_APPROVAL, EVAL_OVERRIDE, monitored
from rollout.control.decide import RolloutState, decide
from rollout.control.interventions import approve
from rollout.control.snapshot import WindowSnapshot
from rollout.errors import ActionRefused
from tests.rollout.control.test_decide import GOOD

VERSION = "3f2a9c1b7e0d55aa"
PLAN = Plan(
    automatic=True, min_duration=60, min_requests=100, require_eval=RequireEval(tier="prod")
)
SHADOW = PLAN.model_copy(update={"shadow": Shadow(duration=30, min_requests=100)})
STAGE_APPROVAL = PLAN.model_copy(update={"approve_before": [1.0]})
NOT_REQUIRED = Plan(automatic=True)
WAIT = f"waiting for a passing eval of version {VERSION[:12]} at tier prod"


def _eval(verdict: str = "pass", tier: str = "prod") -> dict[str, Any]:
    return {
        "version": VERSION,
        "verdict": verdict,
        "tier": tier,
        "dataset_digest": "d1g35tabcdef0123456789",
        "by": "alice",
        "at": 1_765_000_000.0,
    }


def _pending(*approvals: str) -> RolloutState:
    return RolloutState(version=VERSION, approvals=frozenset(approvals))


def _look(plan: Plan, state: RolloutState, evidence: dict[str, Any] | None) -> Any:
    return decide(plan, state, WindowSnapshot(evidence=evidence), 5.0)


# (name, plan, approvals, evidence, action, phase, weight, first reason)
ROWS = [
    ("none recorded", PLAN, (), None, "hold", "pending", 0.0, f"{WAIT} (none recorded)"),
    (
        "failed",
        PLAN,
        (),
        _eval("fail"),
        "hold",
        "pending",
        0.0,
        f"{WAIT} (the recorded one failed)",
    ),
    (
        "conditional, no approver",
        PLAN,
        (),
        _eval("conditional_pass"),
        "hold",
        "pending",
        0.0,
        f"{WAIT} (conditional pass: needs an approver (approve --eval))",
    ),
    (
        "a looser tier is no evidence",
        PLAN,
        (),
        _eval("pass", "staging"),
        "hold",
        "pending",
        0.0,
        f"{WAIT} (the recorded one is at tier staging, looser than prod)",
    ),
    (
        "could not tell is no evidence",
        PLAN,
        (),
        _eval("could_not_tell"),
        "hold",
        "pending",
        0.0,
        f"{WAIT} (the recorded one is could_not_tell: no evidence either way)",
    ),
    ("passed", PLAN, (), _eval(), "promote", "ramping", 0.01, "start"),
    ("passed into shadow", SHADOW, (), _eval(), "promote", "shadow", 0.0, "start: shadow"),
    (
        "passed, then the stage's own approval",
        STAGE_APPROVAL,
        (),
        _eval(),
        "await_approval",
        "awaiting_approval",
        0.0,
        "start",
    ),
    (
        "conditional, approved",
        PLAN,
        (EVAL_APPROVAL,),
        _eval("conditional_pass"),
        "promote",
        "ramping",
        0.01,
        "start",
    ),
    (
        "a conditional approval lets no failure through",
        PLAN,
        (EVAL_APPROVAL,),
        _eval("fail"),
        "hold",
        "pending",
        0.0,
        f"{WAIT} (the recorded one failed)",
    ),
    ("missing, overridden", PLAN, (EVAL_OVERRIDE,), None, "promote", "ramping", 0.01, "start"),
    (
        "failed, overridden",
        PLAN,
        (EVAL_OVERRIDE,),
        _eval("fail"),
        "promote",
        "ramping",
        0.01,
        "start",
    ),
    ("not required", NOT_REQUIRED, (), None, "promote", "ramping", 0.01, "start"),
    ("not required, failed", NOT_REQUIRED, (), _eval("fail"), "promote", "ramping", 0.01, "start"),
]


@pytest.mark.parametrize(
    ("plan", "approvals", "evidence", "action", "phase", "weight", "reason"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_a_pending_version_starts_on_its_evidence(
    plan: Plan,
    approvals: tuple[str, ...],
    evidence: dict[str, Any] | None,
    action: str,
    phase: str,
    weight: float,
    reason: str,
) -> None:
    state = _pending(*approvals)
    decision = _look(plan, state, evidence)
    assert (decision.action, decision.state.phase, decision.state.weight) == (action, phase, weight)
    assert decision.reasons[0].startswith(reason)
    if action == "hold":
        assert decision.state == state  # nothing to write: still pending, no candidate call
        assert decision.reasons == (reason,)


@pytest.mark.parametrize(
    ("approvals", "evidence", "note"),
    [
        ((), _eval(), "eval passed at tier prod (dataset d1g35tabcdef)"),
        (
            (EVAL_APPROVAL,),
            _eval("conditional_pass"),
            "eval passed conditionally at tier prod (dataset d1g35tabcdef), approved",
        ),
        (
            (EVAL_OVERRIDE,),
            _eval("fail"),
            "started without a passing eval (failed), overridden by an approver: extra monitoring",
        ),
        (
            (EVAL_OVERRIDE,),
            None,
            "started without a passing eval (missing), overridden by an approver: extra monitoring",
        ),
    ],
)
def test_the_start_says_what_it_rests_on(
    approvals: tuple[str, ...], evidence: dict[str, Any] | None, note: str
) -> None:
    assert _look(PLAN, _pending(*approvals), evidence).reasons == ("start", note, "to 1%")


def test_a_version_under_way_is_not_affected() -> None:
    """The evidence is required to start: a running ramp without any (say the plan gained
    require_eval mid-ramp) carries on."""
    ramping = RolloutState(version=VERSION, phase="ramping", weight=0.01, since=0.0)
    decision = decide(PLAN, ramping, GOOD, 100.0)
    assert (decision.action, decision.state.weight) == ("promote", 0.05)


def test_an_overridden_version_is_named_in_every_later_decision() -> None:
    started = _look(PLAN, _pending(EVAL_OVERRIDE), None).state
    early = decide(PLAN, started, GOOD, 30.0)
    assert early.action == "hold"
    assert early.reasons[0].startswith("started without a passing eval, overridden by an approver")
    assert decide(PLAN, started, GOOD, 100.0).reasons[0] == early.reasons[0]


# approve --eval: judged on the evidence stored when the person acts
@pytest.mark.parametrize(
    ("evidence", "key", "note"),
    [
        (
            _eval("conditional_pass"),
            EVAL_APPROVAL,
            f"approved the conditional pass of version {VERSION[:12]}'s eval at tier prod",
        ),
        (
            None,
            EVAL_OVERRIDE,
            f"overrode the missing eval of version {VERSION[:12]} at tier prod: to start without"
            " a passing eval, marked for extra monitoring",
        ),
        (
            _eval("fail"),
            EVAL_OVERRIDE,
            f"overrode the failed eval of version {VERSION[:12]} at tier prod: to start without"
            " a passing eval, marked for extra monitoring",
        ),
    ],
    ids=["conditional", "missing", "failed"],
)
def test_approve_eval(evidence: dict[str, Any] | None, key: str, note: str) -> None:
    decision = approve(PLAN, _pending(), EVAL_APPROVAL, 5.0, evidence)
    assert (decision.action, decision.reasons) == ("approve", (note,))
    assert decision.state == _pending(key)  # still pending: the controller starts it next look
    assert monitored(decision.state.approvals) == (
        ["eval_override"] if key == EVAL_OVERRIDE else []
    )


def test_a_conditional_approval_then_a_failed_record_needs_an_override() -> None:
    decision = approve(PLAN, _pending(EVAL_APPROVAL), EVAL_APPROVAL, 5.0, _eval("fail"))
    assert decision.state.approvals == {EVAL_APPROVAL, EVAL_OVERRIDE}


@pytest.mark.parametrize(
    ("plan", "state", "evidence", "message"),
    [
        (NOT_REQUIRED, _pending(), None, "the plan requires no eval"),
        (PLAN, _pending(), _eval(), f"the eval of version {VERSION[:12]} passed at tier prod"),
        (
            PLAN,
            RolloutState(version=VERSION, phase="ramping", weight=0.01),
            None,
            "already started (ramping): the eval is required to start",
        ),
        (PLAN, _pending(EVAL_OVERRIDE), None, "the eval is already overridden"),
        (PLAN, _pending(EVAL_APPROVAL), _eval("conditional_pass"), "eval is already approved"),
        (PLAN, RolloutState(version=VERSION, phase="rolled_back"), None, "nothing to approve"),
    ],
    ids=["not required", "passed", "started", "overridden", "approved", "finished"],
)
def test_approve_eval_refuses(
    plan: Plan, state: RolloutState, evidence: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ActionRefused, match=re.escape(message)):
        approve(plan, state, EVAL_APPROVAL, 5.0, evidence)


def test_monitored_names_accepted_gates_and_an_overridden_eval() -> None:
    approvals = {"stage:25", "gate:refusal_rate", EVAL_APPROVAL, EVAL_OVERRIDE}
    assert monitored(approvals) == ["eval_override", "refusal_rate"]
