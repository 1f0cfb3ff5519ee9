"""No shadow call to a candidate whose plan requires an eval before the controller started it:
the shadow phase is the start that the evidence allows."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from proxy.shadow.mirror import RolloutMirror
from rollout.config.plan import Plan, RequireEval, Shadow
from rollout.config.shadow import Shadow as Mirroring
from rollout.control.live_state import initial_state


def _mirror(plan: Plan) -> RolloutMirror:
    """Only what active() reads: the rollout's plan and the mirroring config."""
    mirror = object.__new__(RolloutMirror)
    mirror.rollout = SimpleNamespace(config=SimpleNamespace(plan=plan))  # type: ignore[assignment]
    mirror.config = Mirroring()
    return mirror


REQUIRED = Plan(automatic=True, shadow=Shadow(), require_eval=RequireEval())
NOT_REQUIRED = Plan(automatic=True, shadow=Shadow())


@pytest.mark.parametrize(
    ("plan", "phase", "active"),
    [
        (REQUIRED, None, False),  # the controller has not looked yet
        (REQUIRED, "pending", False),  # it looked: waiting for the eval
        (REQUIRED, "shadow", True),  # started on the evidence
        (NOT_REQUIRED, None, True),
        (NOT_REQUIRED, "pending", True),
    ],
)
def test_mirroring_waits_for_the_start_when_an_eval_is_required(
    plan: Plan, phase: str | None, active: bool
) -> None:
    state = replace(initial_state(0.0, False), phase=phase)
    assert _mirror(plan).active(state) is active
