"""`rollout simulate`: replay synthetic metric streams through the controller's own decide(), and
through a Flagger-style rule, one full ramp per seed.

A replay runs on a simulated clock, one evaluation interval at a time, exactly as the controller
does: the stream's buckets for the interval (at the rollout's current weight) join the window
of the current stage, the window's snapshot is built by the controller's `arm_snapshot` from the
merged fields, and `decide(plan, state, snapshot, now)` returns the next state. A change of
stage (the state's `since` moves) starts a new window, as the controller reads the buckets since
`since`. Approvals before stages are granted at once (nobody waits in a simulation); a failing
secondary gate stops the run as "awaiting_approval".

With a shadow phase in the plan, the run starts there: the candidate serves nobody, a share of
the baseline's requests is mirrored to it (and to a second baseline call, the noise arm) as
`Mirror` says, and the windows hold the "candidate:shadow" and "baseline:shadow" roles beside
the live ones. What users received is counted apart (`candidate_requests`: live calls only), so
the report can say how many bad answers reached users before a rollback (the harm).

Each run stops when it completes, rolls back, waits for a person, or reaches its horizon
(`max_looks`; for all but A/A also `after_500` looks after the candidate's 500th request).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rollout.config.plan import Plan
from rollout.control.decide import TERMINAL, RolloutState, decide, stage_approval
from rollout.control.snapshot import Snapshot, WindowSnapshot, arm_snapshot
from rollout.errors import SimulationError
from rollout.simulate.flagger import FlaggerRule
from rollout.simulate.streams import BUCKET_SECONDS, Mirror, Stream

Outcome = Literal["complete", "rolled_back", "awaiting_approval", "stalled"]
DETECT_AT = 500  # candidate requests: the targets count intervals from here
# WindowSnapshot field -> the "{arm}:{role}" prefix of its window fields
_ROLES = {
    "baseline": "baseline:live",
    "candidate": "candidate:live",
    "shadow": "candidate:shadow",
    "noise": "baseline:shadow",  # the noise calls' outcomes (snapshot.noise_snapshot)
}


class Window:
    """The buckets of one stage, merged as they arrive. `snapshot()` equals
    `window_snapshot(buckets)` for the same buckets, without re-adding them on every look. Each
    arm and role's fields are kept apart: `arm_snapshot` reads only its own prefix, and scans
    fewer keys."""

    def __init__(self) -> None:
        self._merged: dict[str, dict[str, float]] = {p: defaultdict(float) for p in _ROLES.values()}
        self._batches: dict[str, list[tuple[int, float]]] = {p: [] for p in _ROLES.values()}

    def add(self, buckets: Sequence[dict[str, float]]) -> Window:
        for fields in buckets:
            for name, value in fields.items():
                arm, role, _ = name.split(":", 2)
                self._merged[f"{arm}:{role}"][name] += value
            for prefix, batches in self._batches.items():
                priced = round(fields.get(f"{prefix}:priced", 0.0))
                if priced > 0:  # an empty bucket is no batch (as in window_snapshot)
                    batches.append((priced, fields[f"{prefix}:cost_usd"]))
        return self

    def snapshot(self) -> WindowSnapshot:
        def one(prefix: str) -> Snapshot:
            arm, role = prefix.split(":")
            return arm_snapshot(self._merged[prefix], arm, role, tuple(self._batches[prefix]))

        return WindowSnapshot(**{name: one(prefix) for name, prefix in _ROLES.items()})


class Feed:
    """The stream, one evaluation interval at a time, counting the candidate's requests."""

    def __init__(self, stream: Stream, interval: float) -> None:
        buckets = interval / BUCKET_SECONDS
        if buckets < 1 or not float(buckets).is_integer():
            raise SimulationError(
                f"evaluation_interval {interval:g}s must be a multiple of {BUCKET_SECONDS}s"
            )
        self.cursor, self.per_look = stream.cursor(), int(buckets)
        self.index = 0
        self.candidate_requests = 0  # live: served to users
        self.shadow_requests = 0  # mirrored: served to nobody
        self.reached_at: float | None = None  # when the candidate's 500th request was seen

    def next_interval(self, weight: float, mirror: Mirror | None = None) -> list[dict[str, float]]:
        out = []
        for _ in range(self.per_look):
            # (a scripted cursor in the tests takes the weight alone)
            fields = (
                self.cursor.next_bucket(weight, mirror)
                if mirror
                else self.cursor.next_bucket(weight)
            )
            self.index += 1
            self.candidate_requests += round(fields.get("candidate:live:requests", 0.0))
            self.shadow_requests += round(fields.get("candidate:shadow:requests", 0.0))
            if self.reached_at is None and self.candidate_requests >= DETECT_AT:
                self.reached_at = float(self.index * BUCKET_SECONDS)
            out.append(fields)
        return out


@dataclass(frozen=True, slots=True)
class RunResult:
    outcome: Outcome
    end: float  # simulated seconds
    looks: int
    stage: float  # the last stage's percent
    reached_at: float | None  # when the candidate reached DETECT_AT requests
    reason: str
    candidate_requests: int  # live, over the whole run: what users received
    shadow_requests: int = 0  # mirrored to the candidate, over the whole run
    in_shadow: bool = False  # it ended in the shadow phase: no user saw the candidate

    def delay(self, interval: float) -> float | None:
        """Evaluation intervals from the 500th candidate request to the rollback (<= 0: before
        it); None when not rolled back."""
        if self.outcome != "rolled_back":
            return None
        if self.reached_at is None:
            return -math.inf
        return (self.end - self.reached_at) / interval


@dataclass(frozen=True, slots=True)
class Horizon:
    max_looks: int = 2000
    after_500: int | None = None  # stop this many looks after DETECT_AT candidate requests

    def over(self, looks: int, feed: Feed, now: float, interval: float) -> bool:
        if looks >= self.max_looks:
            return True
        if self.after_500 is None or feed.reached_at is None:
            return False
        return now - feed.reached_at >= self.after_500 * interval


def _stopped(decision_phase: str) -> Outcome | None:
    if decision_phase in TERMINAL:
        return "rolled_back" if decision_phase == "rolled_back" else "complete"
    return None


def replay_decide(
    plan: Plan, stream: Stream, horizon: Horizon, mirror: Mirror | None = None
) -> RunResult:
    """One ramp judged by the controller's decide(); with a shadow phase in the plan, mirrored
    as `mirror` says (default: 10% of the baseline's requests, every one with a noise call)."""
    interval = plan.evaluation_interval
    every_stage = frozenset(stage_approval(s.percent) for s in plan.stages)
    state = RolloutState(version="sim", approvals=every_stage)
    state = decide(plan, state, WindowSnapshot(), 0.0).state  # pending -> shadow or stage 0
    feed, window, now, looks = Feed(stream, interval), Window(), 0.0, 0
    mirror = mirror or Mirror()
    while True:
        shadowing = state.phase == "shadow"
        window.add(feed.next_interval(state.weight, mirror if shadowing else None))
        now += interval
        decision = decide(plan, state, window.snapshot(), now)
        looks += 1
        if decision.state.since != state.since:  # a new stage or phase: a new window
            window = Window()
        state = decision.state
        reason = decision.reasons[0] if decision.reasons else decision.action
        outcome = _stopped(state.phase)
        if outcome is None and decision.action == "await_approval":
            outcome = "awaiting_approval"
        if outcome is None and horizon.over(looks, feed, now, interval):
            outcome = "stalled"
        if outcome is not None:
            # a run stopped in shadow is at no stage: 0, not the first stage's percent
            stage = 0.0 if shadowing else plan.stages[state.stage].percent
            return RunResult(
                outcome,
                now,
                looks,
                stage,
                feed.reached_at,
                reason,
                feed.candidate_requests,
                feed.shadow_requests,
                shadowing,
            )


def replay_flagger(plan: Plan, rule: FlaggerRule, stream: Stream, horizon: Horizon) -> RunResult:
    """The same ramp (stages, minimum stage duration, bake time, interval) judged by the
    Flagger-style rule: each look checks only the last interval's candidate traffic."""
    interval = plan.evaluation_interval
    feed, now, looks, failed, stage, since = Feed(stream, interval), 0.0, 0, 0, 0, 0.0
    last = len(plan.stages) - 1
    while True:
        weight = plan.stages[stage].percent / 100.0
        snap = Window().add(feed.next_interval(weight)).snapshot()
        now += interval
        looks += 1
        failures = rule.failures(snap.candidate)
        outcome: Outcome | None = None
        reason = ""
        if failures:
            failed += 1
            reason = f"failed check {failed} of {rule.failed_checks}: {failures[0]}"
            if failed >= rule.failed_checks:
                outcome = "rolled_back"
        else:
            needed = plan.bake_time if stage == last else plan.needs(stage).min_duration
            if now - since >= needed:
                if stage == last:
                    outcome, reason = "complete", "baked at 100%"
                else:
                    stage, since = stage + 1, now
        if outcome is None and horizon.over(looks, feed, now, interval):
            outcome = "stalled"
        if outcome is not None:
            percent = plan.stages[stage].percent
            return RunResult(
                outcome, now, looks, percent, feed.reached_at, reason, feed.candidate_requests
            )
