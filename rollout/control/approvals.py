"""The keys of people's approvals in a rollout's state (`approvals`), and which of them mark the
rollout for extra monitoring. Pure; read by decide(), people's actions, the view and the metrics.

- `stage:<percent>`: entering a stage in `approve_before`;
- `gate:<name>`: a failing secondary gate accepted (extra monitoring);
- `eval`: a conditional pass of the version's recorded eval accepted;
- `eval:override`: the version started without a passing eval (missing or failed), on an
  approver's word and reason (extra monitoring).
"""

from __future__ import annotations

from collections.abc import Collection

EVAL_APPROVAL = "eval"
EVAL_OVERRIDE = "eval:override"
# How an overridden eval is named among the accepted gates (status, metrics).
EVAL_OVERRIDE_NAME = "eval_override"


def stage_approval(percent: float) -> str:
    """The approval key that lets the ramp enter the stage at `percent`."""
    return f"stage:{percent:g}"


def gate_approval(gate: str) -> str:
    """The approval key that accepts a failing secondary gate (marked for extra monitoring)."""
    return f"gate:{gate}"


def monitored(approvals: Collection[str]) -> list[str]:
    """What approvers let through that is to be watched more closely, sorted: the accepted
    secondary gates by name, and `eval_override` when the version started without a passing
    eval. One list, so the status, the metrics and the decisions name them alike."""
    names = {a.removeprefix("gate:") for a in approvals if a.startswith("gate:")}
    if EVAL_OVERRIDE in approvals:
        names.add(EVAL_OVERRIDE_NAME)
    return sorted(names)
