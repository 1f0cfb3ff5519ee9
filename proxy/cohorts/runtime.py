"""Live rollout state on one replica: loaded from the store at start, refreshed when a change is
published (pub/sub: every replica within a second) and every few seconds anyway (a missed
message, a store that was down), and the sticky-assignment writes flushed once a second.

When the store is unreachable the replica keeps the state it last knew (at start: the config's)
and keeps serving; nothing on the request path waits for the store beyond one bounded lookup.
When the store comes back without a state document it had, the replica writes back the one it
knew (rollout/control/state_keeper.py); when it knew nothing of the rollout's version, it
serves the baseline and raises llm_rollout_state_lost until someone writes a state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping, Sequence

from proxy.cohorts.compiled import CompiledRollout
from proxy.cohorts.metrics import KILLED, STATE_REFRESHES, WEIGHT
from proxy.cohorts.sticky import StickyArms
from proxy.cohorts.store_guard import StoreGuard
from rollout.control.live_state import (
    CHANGES_CHANNEL,
    FLAGS_KEY,
    LiveState,
    config_state,
    initial_state,
    state_from_doc,
    state_key,
)
from rollout.control.state_hold import hold_reason
from rollout.control.state_keeper import keep_states
from rollout.control.state_metrics import set_held
from rollout.store import Store
from rollout.targeting.flags import FlagSet
from rollout.tasks import cancel_and_wait

log = logging.getLogger("llm_rollout.runtime")
_REMOVED = initial_state(0.0, False)


class Runtime:
    def __init__(
        self,
        rollouts: Sequence[CompiledRollout],
        flags: FlagSet,
        store: Store,
        *,
        refresh_seconds: float = 5.0,
        flush_seconds: float = 1.0,
    ) -> None:
        self.rollouts = {r.name: r for r in rollouts}
        self.flags = flags
        self.store = keep_states(store, f"replica {socket.gethostname()}:{os.getpid()}")
        self._held: set[str] = set()  # rollouts on the baseline for a lost state
        self.guard = StoreGuard()
        self.sticky = StickyArms(store.assignments, self.guard)
        self.states: dict[str, LiveState] = {r.name: config_state(r.config) for r in rollouts}
        self.refresh_seconds, self.flush_seconds = refresh_seconds, flush_seconds
        self._flag_overrides: Mapping[str, object] = {}  # as last read from the store
        # The flags and overrides last applied to them, and the gauges last set, per rollout:
        # a refresh that changes nothing does nothing per flag or rollout.
        self._applied: tuple[FlagSet, Mapping[str, object]] | None = None
        self._published: dict[str, tuple[float, bool]] = {}
        self._changing = asyncio.Lock()  # a refresh and a reconfigure never interleave
        self._tasks: list[asyncio.Task[None]] = []
        self._publish_states()

    def state(self, rollout: str) -> LiveState:
        # A request that started before a reload removed its rollout: the baseline.
        return self.states.get(rollout, _REMOVED)

    async def start(self) -> None:
        await self.refresh("start")
        self._tasks = [
            asyncio.create_task(self._follow_changes(), name="runtime-changes"),
            asyncio.create_task(self._tick(), name="runtime-tick"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        await self.sticky.flush()

    async def refresh(self, trigger: str) -> None:
        """Re-read every rollout's state document and the flag overrides."""
        STATE_REFRESHES.labels(trigger).inc()
        async with self._changing:
            states = await self._read_states(self.rollouts, self.states)
            await self._read_flag_overrides()
            self._install(self.rollouts, self.flags, states)

    async def reconfigure(self, rollouts: Sequence[CompiledRollout], flags: FlagSet) -> None:
        """Take a reloaded config's rollouts and flags. The store is read first and everything
        is switched at once after it: a rollout whose version is unchanged keeps its state, a
        new version (or a new rollout) starts from what the store says about it, else from the
        config; the new flags get the current runtime overrides before any request sees them."""
        new = {r.name: r for r in rollouts}
        async with self._changing:
            start = {name: self._kept_state(r) for name, r in new.items()}
            states = await self._read_states(new, start)
            await self._read_flag_overrides()
            self._install(new, flags, states)

    def _kept_state(self, rollout: CompiledRollout) -> LiveState:
        old = self.rollouts.get(rollout.name)
        state = self.states.get(rollout.name)
        if old is None or state is None or old.version != rollout.version or not state.from_store:
            return config_state(rollout.config)  # the config's (possibly new) weight
        return state

    async def _read_states(
        self, rollouts: Mapping[str, CompiledRollout], known: Mapping[str, LiveState]
    ) -> dict[str, LiveState]:
        docs = self.store.documents
        states = dict(known)
        for name, rollout in rollouts.items():
            found = await self.guard.call("documents.read", lambda n=name: docs.read(state_key(n)))
            if found is None:
                continue  # store down: keep what we knew
            doc = found[0]
            if self._holds(rollout):
                states[name] = _REMOVED  # the baseline, until someone writes a state
                continue
            if doc is None and states[name].from_store:
                # Known from the store before, gone now: Redis restarted empty, most likely.
                # Keep what we knew (a kill switch must not lift itself) until someone writes.
                log.warning("state of rollout %s vanished from the store; keeping it", name)
                continue
            try:
                states[name] = state_from_doc(doc, rollout.version, config_state(rollout.config))
            except ValueError as exc:
                log.error("ignoring malformed state of rollout %s: %s", name, exc)
        return states

    def _holds(self, rollout: CompiledRollout) -> bool:
        """Whether the store lost this rollout's state with nothing of its version known here
        (logged and counted when that starts and when it ends)."""
        name = rollout.name
        lost = self.store.keeper.lost(state_key(name), rollout.version)
        if lost and name not in self._held:
            self._held.add(name)
            log.error("STATE LOST: %s", hold_reason(rollout.config))
        elif not lost and name in self._held:
            self._held.discard(name)
            log.warning("rollout %s has a state again: no longer held", name)
        set_held(name, "replica", lost)
        return lost

    async def _read_flag_overrides(self) -> None:
        found = await self.guard.call(
            "documents.read", lambda: self.store.documents.read(FLAGS_KEY)
        )
        if found is not None:  # store down: keep the overrides we knew
            self._flag_overrides = found[0] or {}

    def _install(
        self,
        rollouts: Mapping[str, CompiledRollout],
        flags: FlagSet,
        states: dict[str, LiveState],
    ) -> None:
        for gone in set(self.states) - set(states):
            WEIGHT.labels(gone).set(0)
            KILLED.labels(gone).set(0)
            self._published.pop(gone, None)
        self.rollouts, self.flags, self.states = dict(rollouts), flags, states
        if (flags, self._flag_overrides) != self._applied:  # each refresh, every 5 s
            self._apply_flag_overrides(self._flag_overrides)
        self._publish_states()
        self.sticky.forget({s.scope(n, self.rollouts[n].version) for n, s in self.states.items()})

    def _apply_flag_overrides(self, doc: Mapping[str, object]) -> None:
        try:
            unknown = self.flags.apply_runtime(doc)  # type: ignore[arg-type]
        except ValueError as exc:
            log.error("ignoring malformed flag overrides: %s", exc)
            return
        self._applied = (self.flags, doc)
        if unknown:
            log.warning("flag overrides name unknown flags: %s", ", ".join(sorted(unknown)))

    def _publish_states(self) -> None:
        # Only what changed: a refresh every 5 s would set two gauges per rollout, a thousand
        # rollouts' worth of label lookups, for nothing.
        for name, state in self.states.items():
            shown = (state.weight, state.killed)
            if self._published.get(name) != shown:
                WEIGHT.labels(name).set(state.weight)
                KILLED.labels(name).set(1 if state.killed else 0)
                self._published[name] = shown

    async def _follow_changes(self) -> None:
        async with self.store.notifications.subscribe(CHANGES_CHANNEL) as subscription:
            seen = subscription.resubscribed
            await self.refresh("subscribed")  # a change made before we listened
            async for _message in subscription:
                await self.refresh("notification")
                if subscription.resubscribed != seen:  # messages may have been missed
                    seen = subscription.resubscribed
                    await self.refresh("resubscribed")

    async def _tick(self) -> None:
        elapsed = 0.0
        while True:
            await asyncio.sleep(self.flush_seconds)
            elapsed += self.flush_seconds
            try:
                await self.sticky.flush()
                if elapsed >= self.refresh_seconds:
                    elapsed = 0.0
                    await self.refresh("timer")
            except Exception:  # a bug here must not stop later refreshes
                log.exception("runtime tick failed")
