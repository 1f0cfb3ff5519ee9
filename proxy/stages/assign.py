"""Choose the arm (baseline or candidate) of a governed request, in this order:

1. kill switch on: baseline, for everyone, at once;
2. a flag forced an arm, or one of the rollout's overrides pins the request: that arm;
3. no subject: a fresh random draw per request (counted as `random`: not sticky);
4. the subject's bucket (rollout/targeting/cohorts.py) below the weight: candidate, remembered;
5. between the weight and the highest weight this version had: whatever the store remembers
   (a candidate stays a candidate when the weight comes down);
6. otherwise: baseline.

Only step 5 can wait on the store (one bounded lookup, shared by concurrent misses, cached), and
only for subjects the weight has come down past; a returning subject never does.
"""

from __future__ import annotations

import random

from proxy.cohorts.metrics import ASSIGNMENTS
from proxy.cohorts.runtime import Runtime
from proxy.exchange import Exchange
from rollout.targeting.cohorts import bucket, may_be_remembered


class Assign:
    name = "assign"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._counters: dict[tuple[str, str, str], object] = {}

    async def __call__(self, ex: Exchange) -> None:
        rollout = ex.governing
        if rollout is None:
            return
        arm, reason = await self._choose(ex)
        ex.arm, ex.assigned_by = arm, reason
        key = (rollout.name, arm, reason)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = ASSIGNMENTS.labels(*key)
        counter.inc()  # type: ignore[attr-defined]

    async def _choose(self, ex: Exchange) -> tuple[str, str]:
        rollout = ex.governing
        assert rollout is not None
        state = self.runtime.state(rollout.name)
        if state.killed:
            return "baseline", "killed"
        if ex.forced_arm is not None:
            return ex.forced_arm, "flag"
        pinned = rollout.override_arm(ex)
        if pinned is not None:
            return pinned, "override"
        subject = ex.subject
        if subject is None:
            arm = "candidate" if random.random() < state.weight else "baseline"
            return arm, "random"
        position = bucket(rollout.salt, subject)
        sticky = self.runtime.sticky
        scope = state.scope(rollout.name, rollout.version)
        if position < state.weight:
            sticky.remember(scope, subject, "candidate", rollout.sticky_ttl)
            return "candidate", "hash"
        if may_be_remembered(position, state.weight, state.max_weight):
            arm = sticky.known(scope, subject) or await sticky.recall(scope, subject)
            return arm, ("sticky" if arm == "candidate" else "hash")
        return "baseline", "hash"
