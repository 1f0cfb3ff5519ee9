"""A stage that holds far longer than it should: `plan.hold_warning_factor` times its minimum.

A hold is the controller waiting for more data; one that lasts several times the stage's minimum
duration usually waits for data it will not get at this rate (or at all: a JSON gate on traffic
without JSON mode). The controller logs it and audits it once per stage
(rollout/control/look_keeper.py); this module only says whether and why.
"""

from __future__ import annotations

from typing import Any

from rollout.config.plan import Plan
from rollout.control.decide import Decision, RolloutState

HOLD_PHASES = ("shadow", "ramping", "baking")  # a pause is a person's hold; a wait is for one


def minimum_seconds(plan: Plan, state: RolloutState) -> float:
    """How long the phase or stage must last at least: the base of the warning. Never below one
    evaluation interval, so a stage with no minimum duration is not warned about at once."""
    if state.phase == "shadow" and plan.shadow is not None:
        minimum = plan.shadow.duration
    elif state.phase == "baking":
        minimum = plan.bake_time
    else:
        minimum = plan.needs(state.stage).min_duration
    return max(minimum, plan.evaluation_interval)


def hold_too_long(plan: Plan, decision: Decision, now: float) -> dict[str, Any] | None:
    """The numbers of a hold past the plan's factor, or None (not a hold, not that long yet, or
    warnings off)."""
    state = decision.state
    factor = plan.hold_warning_factor
    if factor is None or decision.action != "hold" or state.phase not in HOLD_PHASES:
        return None
    minimum = minimum_seconds(plan, state)
    held = now - state.since
    if held <= factor * minimum:
        return None
    return {
        "stage": state.stage,
        "since": state.since,
        "held_seconds": round(held, 1),
        "minimum_seconds": minimum,
        "factor": factor,
    }


def hold_reason(hold: dict[str, Any], percent: float | None) -> str:
    where = f"at {percent:g}%" if percent is not None else "in the shadow phase"
    return (
        f"held {hold['held_seconds'] / 60:.0f} min {where}, more than {hold['factor']:g} x the"
        f" minimum {hold['minimum_seconds']:.0f}s"
    )


def hold_entry(
    rollout: str,
    version: str,
    hold: dict[str, Any],
    reason: str,
    decision: Decision,
    gates: list[dict[str, Any]],
) -> dict[str, Any]:
    """The audit entry: why it holds, with every gate's verdict and what it still needs. A hold
    changes nothing: `before` and `after` are the same (readers of the log expect both)."""
    state = decision.state
    where = {"phase": state.phase, "stage": state.stage, "weight": state.weight}
    return {
        "action": "hold_too_long",
        "actor": "controller",
        "rollout": rollout,
        "version": version,
        "reason": f"{reason}: {'; '.join(decision.reasons)}",
        "reasons": list(decision.reasons),
        "hold": hold,
        "before": where,
        "after": where,
        "gates": gates,
    }
