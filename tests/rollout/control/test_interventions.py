"""People's actions on an automatic rollout: one table row per transition, one per refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rollout.config.plan import Plan, Shadow
from rollout.control.decide import Decision, RolloutState, decide
from rollout.control.interventions import approve, pause, promote, resume, roll_back
from rollout.errors import ActionRefused
from tests.rollout.control.test_decide import REFUSALS

# Stages 1, 5, 25, 50, 100; an approver must let the ramp into 50 and 100.
PLAN = Plan(min_duration=60, min_requests=100, approve_before=[50, 100])
SHADOW_PLAN = Plan(shadow=Shadow(duration=30, min_requests=100))
NOW = 500.0


def _at(phase: str, percent: float = 0.0, stage: int | None = None, **more: object) -> RolloutState:
    percents = [s.percent for s in PLAN.stages]
    index = stage if stage is not None else percents.index(percent) if percent else 0
    return RolloutState(
        "v1",
        phase,  # type: ignore[arg-type]
        stage=index,
        weight=percent / 100,
        since=100.0,
        **more,  # type: ignore[arg-type]
    )


def _approved(*keys: str) -> frozenset[str]:
    return frozenset(keys)


Act = Callable[[Plan, RolloutState, float], Decision]


def _promote_full(plan: Plan, state: RolloutState, now: float) -> Decision:
    return promote(plan, state, now, full=True)


def _approve(key: str | None) -> Act:
    def act(plan: Plan, state: RolloutState, now: float) -> Decision:
        return approve(plan, state, key, now)

    return act


# (name, act, plan, before, action, phase, weight, awaiting, since)
ROWS = [
    ("pause ramping", pause, PLAN, _at("ramping", 5), "pause", "paused", 0.05, None, 100),
    ("pause shadow", pause, SHADOW_PLAN, _at("shadow"), "pause", "paused", 0.0, None, 100),
    ("pause baking", pause, PLAN, _at("baking", 100), "pause", "paused", 1.0, None, 100),
    (
        "pause keeps the wait",
        pause,
        PLAN,
        _at("awaiting_approval", 25, awaiting="stage:50"),
        "pause",
        "paused",
        0.25,
        "stage:50",
        100,
    ),
    ("resume ramping", resume, PLAN, _at("paused", 5), "resume", "ramping", 0.05, None, 100),
    ("resume baking", resume, PLAN, _at("paused", 100), "resume", "baking", 1.0, None, 100),
    ("resume shadow", resume, SHADOW_PLAN, _at("paused"), "resume", "shadow", 0.0, None, 100),
    (
        "resume to the wait",
        resume,
        PLAN,
        _at("paused", 25, awaiting="stage:50"),
        "resume",
        "awaiting_approval",
        0.25,
        "stage:50",
        100,
    ),
    ("promote a stage", promote, PLAN, _at("ramping", 5), "promote", "ramping", 0.25, None, NOW),
    (
        "promote from shadow",
        promote,
        SHADOW_PLAN,
        _at("shadow"),
        "promote",
        "ramping",
        0.01,
        None,
        NOW,
    ),
    (
        "promote into an approved stage",
        promote,
        PLAN,
        _at("awaiting_approval", 25, awaiting="stage:50", approvals=_approved("stage:50")),
        "promote",
        "ramping",
        0.5,
        None,
        NOW,
    ),
    (
        "promote --full",
        _promote_full,
        PLAN,
        _at("ramping", 5, approvals=_approved("stage:50", "stage:100")),
        "promote",
        "baking",
        1.0,
        None,
        NOW,
    ),
    (
        "promote skips the bake",
        promote,
        PLAN,
        _at("baking", 100),
        "promote",
        "complete",
        1.0,
        None,
        NOW,
    ),
    (
        "approve the awaited stage enters it",
        _approve(None),
        PLAN,
        _at("awaiting_approval", 25, awaiting="stage:50"),
        "approve",
        "ramping",
        0.5,
        None,
        NOW,
    ),
    (
        "approve a stage ahead",
        _approve("stage:100"),
        PLAN,
        _at("ramping", 5),
        "approve",
        "ramping",
        0.05,
        None,
        100,
    ),
    (
        "approve while paused waits for the resume",
        _approve("stage:50"),
        PLAN,
        _at("paused", 25, awaiting="stage:50"),
        "approve",
        "paused",
        0.25,
        "stage:50",
        100,
    ),
    (
        "accept a failed secondary gate",
        _approve("gate:refusal_rate"),
        PLAN,
        _at("awaiting_approval", 5, awaiting="gate:refusal_rate"),
        "approve",
        "ramping",
        0.05,
        None,
        100,
    ),
    (
        "accept a gate while paused",
        _approve("gate:refusal_rate"),
        PLAN,
        _at("paused", 5, awaiting="gate:refusal_rate"),
        "approve",
        "paused",
        0.05,
        None,
        100,
    ),
    ("roll back", roll_back, PLAN, _at("ramping", 25), "roll_back", "rolled_back", 0.0, None, NOW),
    (
        "roll back paused",
        roll_back,
        PLAN,
        _at("paused", 5),
        "roll_back",
        "rolled_back",
        0.0,
        None,
        NOW,
    ),
    (
        "roll back complete",
        roll_back,
        PLAN,
        _at("complete", 100),
        "roll_back",
        "rolled_back",
        0.0,
        None,
        NOW,
    ),
]


@pytest.mark.parametrize(
    ("act", "plan", "before", "action", "phase", "weight", "awaiting", "since"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_transitions(
    act: Act,
    plan: Plan,
    before: RolloutState,
    action: str,
    phase: str,
    weight: float,
    awaiting: str | None,
    since: float,
) -> None:
    decision = act(plan, before, NOW)
    after = decision.state
    assert (decision.action, after.phase, after.weight, after.awaiting, after.since) == (
        action,
        phase,
        weight,
        awaiting,
        since,
    ), decision.reasons
    assert decision.reasons


# (name, act, plan, state, message)
REFUSED = [
    ("pause twice", pause, PLAN, _at("paused", 5), "already paused"),
    ("pause pending", pause, PLAN, _at("pending"), "not started yet"),
    ("pause complete", pause, PLAN, _at("complete", 100), "the rollout is complete: nothing to"),
    ("resume running", resume, PLAN, _at("ramping", 5), "not paused (phase ramping)"),
    ("promote paused", promote, PLAN, _at("paused", 5), "paused: resume it first"),
    ("promote rolled back", promote, PLAN, _at("rolled_back"), "the rollout is rolled back"),
    (
        "promote past an approval",
        promote,
        PLAN,
        _at("ramping", 25),
        "entering 50% needs an approver first (approve --stage 50)",
    ),
    (
        "promote --full past approvals",
        _promote_full,
        PLAN,
        _at("ramping", 5),
        "entering 50%, 100% needs an approver first",
    ),
    ("promote --full at 100", _promote_full, PLAN, _at("baking", 100), "already at 100%"),
    (
        "promote past a failed gate",
        promote,
        PLAN,
        _at("awaiting_approval", 5, awaiting="gate:refusal_rate"),
        "failed secondary gate refusal_rate: approve it first",
    ),
    ("approve nothing", _approve(None), PLAN, _at("ramping", 5), "nothing awaits approval"),
    (
        "approve twice",
        _approve("stage:50"),
        PLAN,
        _at("ramping", 5, approvals=_approved("stage:50")),
        "stage:50 is already approved",
    ),
    ("approve a free stage", _approve("stage:25"), PLAN, _at("ramping", 5), "needs no approval"),
    ("approve no stage", _approve("stage:30"), PLAN, _at("ramping", 5), "30 is not a stage"),
    ("approve a passed stage", _approve("stage:50"), PLAN, _at("ramping", 50), "already at"),
    ("approve a primary gate", _approve("gate:error_rate"), PLAN, _at("ramping", 5), "primary"),
    ("approve no gate", _approve("gate:nope"), PLAN, _at("ramping", 5), "no gate named 'nope'"),
    (
        "approve a passing gate",
        _approve("gate:refusal_rate"),
        PLAN,
        _at("ramping", 5),
        "gate refusal_rate is not waiting for approval (nothing awaits approval)",
    ),
    ("approve garbage", _approve("stages:5"), PLAN, _at("ramping", 5), "not an approval"),
    ("approve finished", _approve(None), PLAN, _at("complete", 100), "nothing to approve"),
    ("roll back twice", roll_back, PLAN, _at("rolled_back"), "already rolled back"),
]


@pytest.mark.parametrize(
    ("act", "plan", "state", "message"),
    [row[1:] for row in REFUSED],
    ids=[row[0] for row in REFUSED],
)
def test_refusals_say_why(act: Act, plan: Plan, state: RolloutState, message: str) -> None:
    with pytest.raises(ActionRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        act(plan, state, NOW)


def test_promote_starts_a_fresh_stage_clock_and_failure_count() -> None:
    after = promote(PLAN, _at("ramping", 5, failures={"error_rate": 1}), NOW).state
    assert (after.stage, after.since, after.failures) == (2, NOW, {})


def test_an_accepted_gate_is_named_in_later_decisions_and_holds_no_more() -> None:
    waiting = decide(PLAN, _at("ramping", 5), REFUSALS, NOW)
    assert waiting.state.awaiting == "gate:refusal_rate"
    accepted = approve(PLAN, waiting.state, None, NOW)
    assert "marked for extra monitoring" in accepted.reasons[0]
    later = decide(PLAN, accepted.state, REFUSALS, NOW + 60)
    assert later.action == "promote"
    assert later.reasons[0].startswith("refusal_rate failing, accepted by an approver: ")
