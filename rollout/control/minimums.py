"""What a stage (or the shadow phase) must have before it may end: its duration, its candidate
requests, its distinct subjects, and in the shadow phase its planned test (shadow_test.py). Each
missing one is a reason the look holds."""

from __future__ import annotations

from typing import Protocol

from rollout.config.plan import Plan
from rollout.control.regression_test import RolloutStateLike, regression_test_unmet
from rollout.control.shadow_test import shadow_test_unmet
from rollout.control.snapshot import Snapshot, WindowSnapshot


class StateLike(RolloutStateLike, Protocol):
    """What this reads of decide.RolloutState (which imports this module)."""

    @property
    def since(self) -> float: ...


def unmet_minimums(
    plan: Plan, state: StateLike, snap: WindowSnapshot, cand: Snapshot, now: float
) -> list[str]:
    """The stage's (or shadow's) minimums not met yet, as reasons."""
    elapsed = now - state.since
    if state.phase == "shadow" and plan.shadow is not None:
        duration, requests, subjects = plan.shadow.duration, plan.shadow.min_requests, None
    else:
        needs = plan.needs(state.stage)
        duration, requests, subjects = needs.min_duration, needs.min_requests, needs.min_subjects
        if state.phase == "baking":
            duration = plan.bake_time
    unmet = []
    if state.phase == "shadow":
        why = shadow_test_unmet(plan, state, snap.noise, cand)
    else:
        why = regression_test_unmet(plan, state, cand)
    if why:
        unmet.append(why)
    if elapsed < duration:
        unmet.append(f"{elapsed:.0f}s of {duration:.0f}s elapsed")
    if cand.requests < requests:
        unmet.append(f"{cand.requests} of {requests} candidate requests")
    if subjects is not None and (snap.subjects is None or snap.subjects < subjects):
        seen = "unknown" if snap.subjects is None else snap.subjects
        unmet.append(f"{seen} of {subjects} candidate subjects")
    return unmet
