"""The controller: looks at every rollout once per evaluation interval, decides, applies.

One look at a rollout: read its state document (a version the document does not know starts
pending), read the metric windows since its stage began (and the distinct candidate subjects,
when the stage has a `min_subjects`; and the version's recorded eval, while a rollout whose plan
has `require_eval` is pending), `decide()`, `apply()`. Only the holder
of the leader lock looks; the lock is renewed on every step, so run() must step well within the
lock's ttl, and a standby takes over within a ttl when the leader dies.

The controller makes no decision while the store is down: a StoreError skips the step (logged),
and the next step tries again. Nothing is kept in memory that a restart would need: the phase,
stage, clock and failure counts are in the state document. The last document read is kept all
the same, to be written back should the store lose it (rollout/control/state_keeper.py); and a
rollout whose state was lost with nothing of its version known is held paused at weight 0 for
a person to decide (rollout/control/state_hold.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from rollout.config.plan import Plan
from rollout.config.rollouts import Rollout
from rollout.control.apply import StaleDecision, apply, controller_state
from rollout.control.controller_metrics import ControllerMetrics
from rollout.control.decide import TERMINAL, Decision, RolloutState, decide
from rollout.control.eval_evidence import read_eval
from rollout.control.live_state import config_state, state_key
from rollout.control.look_keeper import LookKeeper
from rollout.control.operations import ChangeConflict
from rollout.control.plan_audit import StaleConfig, note_plan, remember_plan
from rollout.control.snapshot import WindowSnapshot, window_snapshot
from rollout.control.state_hold import hold_lost, release_hold
from rollout.control.state_keeper import keep_states
from rollout.control.subject_counts import candidate_subjects
from rollout.control.windows import DEFAULT_BUCKET_SECONDS
from rollout.errors import StoreError
from rollout.store import Store

log = logging.getLogger(__name__)

LOCK_NAME = "controller"
DEFAULT_LOCK_TTL = 5.0  # seconds: how soon a standby takes over from a dead leader


def default_owner() -> str:
    """Unique per process, and readable when someone asks who holds the lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Controller:
    def __init__(
        self,
        store: Store,
        rollouts_config: Sequence[Rollout],
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        *,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        bucket_seconds: int = DEFAULT_BUCKET_SECONDS,
    ) -> None:
        self.owner = owner or default_owner()
        # Every state document read or written is remembered, and written back when the store
        # loses it (rollout/control/state_keeper.py): a lost state must not restart a ramp.
        self.store = keep_states(store, self.owner)
        # Replace these attributes to swap in a reloaded config: the next step uses them.
        self.rollouts: Sequence[Rollout] = rollouts_config
        self.config_hash: str | None = None  # recorded in the audit entries
        self.config_time: float | None = (
            None  # the config file's mtime (rollout/control/plan_audit.py)
        )
        self.clock = clock
        self.lock_ttl = lock_ttl
        self.bucket_seconds = bucket_seconds  # the replicas' window buckets (store config)
        self.is_leader = False
        self._last_look: dict[str, float] = {}
        self._held: set[str] = set()  # rollouts held for a lost state, until a person decides
        self.metrics = ControllerMetrics()
        # Why each rollout waits, for `rollout status` (rollout/control/look_keeper.py).
        self.looks = LookKeeper(self.store, self.owner)

    async def step(self) -> dict[str, Decision]:
        """One pass: every rollout whose evaluation interval has passed is looked at. Returns
        the decisions made (none when another controller leads). Raises StoreError."""
        leader = await self.store.leader.acquire(LOCK_NAME, self.owner, self.lock_ttl)
        if not leader:
            # A new leadership starts with fresh looks: the other leader's are not ours to time.
            self._stop_leading()
            self._last_look = {}
            await self._follow()
            return {}
        if not self.is_leader:
            log.info("controller %s is the leader", self.owner)
        self.is_leader = True
        decisions: dict[str, Decision] = {}
        for rollout in list(self.rollouts):
            if not rollout.plan.automatic:
                continue  # steered by hand (config weight, admin API)
            now = self.clock()
            last = self._last_look.get(rollout.name)
            if last is not None and now - last < rollout.plan.evaluation_interval:
                continue
            try:
                decision = await self._look(rollout, now)
            except StaleDecision as exc:  # a person changed it meanwhile: look again next step
                log.info("rollout %s: %s; looking again", rollout.name, exc)
                continue
            if decision is not None:
                decisions[rollout.name] = decision
            self._last_look[rollout.name] = now
        return decisions

    async def _follow(self) -> None:
        """A standby reads the state documents too: should the store lose them and the lead
        come to this controller, it has what to write back instead of starting ramps again."""
        for rollout in list(self.rollouts):
            if rollout.plan.automatic:
                await self.store.documents.read(state_key(rollout.name))

    async def _look(self, rollout: Rollout, now: float) -> Decision | None:
        key = state_key(rollout.name)
        doc, rev = await self.store.documents.read(key)
        if self.store.keeper.lost(key, rollout.version):
            await hold_lost(self.store, rollout, rev, now, self.owner, self.config_hash)
            self._held.add(rollout.name)
            return None
        try:
            state = current_state(doc, rollout.version, rollout.plan)
        except ValueError as exc:
            # Acting on a state we cannot read could undo what a person did: leave it to them.
            log.error("rollout %s: unreadable state document, not deciding: %s", rollout.name, exc)
            return None
        if rollout.name in self._held and state.phase != "paused":  # a person decided
            self._held.discard(rollout.name)
            release_hold(rollout.name)
        if doc is not None and state.phase not in ("pending", *TERMINAL):  # a ramp under way
            try:
                noted = await note_plan(
                    self.store, rollout, doc, rev, state, self.config_hash, self.config_time
                )
            except StaleConfig as exc:  # our replica has not seen the edit yet: no decision
                log.warning("%s", exc)
                return None
            if noted is None:  # another writer came first: look again next time
                return None
            rev = noted  # an edited plan was just written: the decision builds on it
        snap = await self._window(rollout.name, state, now)
        subjects = await candidate_subjects(self.store.subjects, rollout.name, rollout.plan, state)
        snap = replace(snap, subjects=subjects, evidence=await self._evidence(rollout, state))
        decision = decide(rollout.plan, state, snap, now)
        default = config_state(rollout)
        try:
            # Made from revision `rev`: a person's change since (a pause, an approval) wins, and
            # the next look starts from it.
            changed = await apply(
                self.store,
                rollout.name,
                rollout.version,
                decision,
                default=default,
                expected_rev=rev,
                config_hash=self.config_hash,
                audit={"controller": self.owner},  # which controller acted, e.g. after a takeover
            )
        except StaleDecision:
            raise
        except ChangeConflict as exc:  # others kept writing the document: look again next time
            log.warning("rollout %s: decision not applied: %s", rollout.name, exc)
            return None
        self.metrics.record(rollout.name, decision)
        look = await self.looks.record(rollout, state, snap, decision, now, self.config_hash)
        self.metrics.record_look(rollout.name, look)
        if changed:
            log.info(
                "rollout %s: %s (%s)", rollout.name, decision.action, "; ".join(decision.reasons)
            )
        if changed and state.phase == "pending" and decision.state.phase != "pending":
            # The ramp starts (a hold waiting for an eval is no start): remember its plan.
            await remember_plan(self.store, rollout, decision.state, self.config_time)
        return decision

    async def _evidence(self, rollout: Rollout, state: RolloutState) -> dict[str, Any] | None:
        """The recorded eval of the version, read only where decide() needs it: a pending
        rollout whose plan requires one (no store read for the others)."""
        if rollout.plan.require_eval is None or state.phase != "pending":
            return None
        return await read_eval(self.store, rollout.name, rollout.version)

    async def _window(self, name: str, state: RolloutState, now: float) -> WindowSnapshot:
        """The metric buckets since the stage (or phase) began. A bucket that started before
        holds traffic of the previous weight, so it is left out: the window starts at the
        first bucket boundary at or after `since`."""
        if state.phase == "pending" or state.phase in TERMINAL:
            return WindowSnapshot()  # decide() reads no metrics there
        size = self.bucket_seconds
        start = math.ceil(state.since / size) * size
        buckets = await self.store.metrics.read(name, start, math.floor(now) + 1)
        return window_snapshot([buckets[b] for b in sorted(buckets)])

    async def run(self, interval: float = 1.0) -> None:
        """Step every `interval` seconds until cancelled; never stops on a store outage."""
        if interval >= self.lock_ttl:
            raise ValueError(
                f"interval {interval}s must be shorter than the lock ttl {self.lock_ttl}s"
            )
        while True:
            try:
                await self.step()
            except StoreError as exc:
                self._stop_leading()
                log.warning("store unavailable, no decision this time: %s", exc)
            except Exception:  # a bug in one look must not end every later one
                log.exception("controller step failed")
            await asyncio.sleep(interval)

    def _stop_leading(self) -> None:
        if self.is_leader:
            self.metrics.forget()
        self.is_leader = False

    async def close(self) -> None:
        """Hand the lead over at once (a standby need not wait for the ttl)."""
        if self.is_leader:
            self._stop_leading()
            await self.store.leader.release(LOCK_NAME, self.owner)


def current_state(doc: dict[str, Any] | None, version: str, plan: Plan) -> RolloutState:
    """The controller's state of `version`: stored, or a fresh start. A stage index that no
    longer matches the weight (the stage list was edited) is mapped onto the new list."""
    stored = controller_state(doc, version)
    if stored is None:
        return RolloutState(version=version)
    index = stored.stage
    if stored.weight > 0 and (
        index >= len(plan.stages) or plan.stages[index].percent / 100.0 != stored.weight
    ):
        index = plan.stage_for_weight(stored.weight)
    return replace(stored, stage=index)
