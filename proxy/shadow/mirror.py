"""One rollout's shadow traffic at run time: when it mirrors, which requests, and what it keeps
of the pairs (counts in Prometheus and the metric windows, a redacted sample in the store).

Built for each rollout with a `shadow:` section with every config generation; its queue and
hourly budget are long-lived (proxy/shadow/resources.py). The shadow calls themselves are made by
proxy/shadow/pair.py.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from proxy.cohorts.compiled import CompiledRollout
from proxy.cohorts.store_guard import StoreGuard
from proxy.exchange import ShadowTicket
from proxy.shadow.metrics import COMPARISONS, DROPPED
from proxy.shadow.resources import ShadowResources
from proxy.shadow.send import ShadowSend
from rollout.config.shadow import Shadow
from rollout.control.decide import TERMINAL
from rollout.control.live_state import LiveState
from rollout.control.windows import WindowAggregator
from rollout.quality.compare import Thresholds
from rollout.quality.redact import Redactor
from rollout.store import Store
from rollout.targeting.cohorts import bucket

if TYPE_CHECKING:
    from proxy.scoring.rollout_scoring import RolloutScoring

log = logging.getLogger("llm_rollout.shadow")

# Where each kind of pair is counted in the metric windows ("{arm}:{role}:pairs:{comparator}").
WINDOW_PREFIX = {"candidate": ("candidate", "shadow"), "noise": ("baseline", "noise")}


class RolloutMirror:
    def __init__(
        self,
        rollout: CompiledRollout,
        config: Shadow,
        store: Store,
        guard: StoreGuard,
        windows: WindowAggregator | None,
        resources: ShadowResources,
    ) -> None:
        self.rollout, self.config = rollout, config
        self.store, self.guard, self.windows = store, guard, windows
        self.send = ShadowSend(config.timeout)
        self.queue = resources.queue(rollout.name, config)
        self.budget = resources.budget(rollout.name, config)
        self.headroom = resources.headroom
        self._busy = DROPPED.labels(rollout.name, "busy")
        self.redactor = Redactor(
            config.redact.patterns, config.redact.defaults, config.redact.secret_keys
        )
        self.thresholds = Thresholds(config.compare.similarity_min, config.compare.length_ratio_max)
        self.salt = rollout.config.shadow_salt
        self._counters: dict[tuple[str, str, bool], Any] = {}
        # The rollout's online scoring, which scores a sample of the compared pairs (pair.py).
        self.scoring: RolloutScoring | None = None

    def active(self, state: LiveState) -> bool:
        """Mirroring runs at weight 0, or throughout the ramp with `during_ramp`; never while
        killed, nor once the rollout is rolled back, aborted or complete, nor before the
        controller started a version whose plan requires an eval."""
        if state.killed or state.phase in TERMINAL:
            return False
        if self.rollout.config.plan.require_eval is not None and state.phase in (None, "pending"):
            # No candidate call before its eval let the controller start it (plan.require_eval):
            # the shadow phase is that start.
            return False
        return state.weight <= 0.0 or self.config.during_ramp

    def ticket(self, subject: str | None) -> ShadowTicket | None:
        """Is this baseline-served request mirrored? Per subject (its own salt, so the same
        subjects are mirrored every time) or, without a subject or with `per: request`, drawn."""
        share = self.config.share
        if share <= 0.0:
            return None
        if self.config.per == "subject" and subject is not None:
            if bucket(self.salt, subject) >= share:
                return None
        elif random.random() >= share:
            return None
        # Chosen, but live traffic first: a process short of CPU mirrors nothing, and then need
        # not capture this answer's text either.
        if not self.headroom.admit(self.config.max_cpu):
            self._busy.inc()
            return None
        return ShadowTicket(os.urandom(8).hex(), random.random() < self.config.noise_share)

    def count(self, kind: str, disagreements: Mapping[str, bool], now: float) -> None:
        """One compared pair, in Prometheus and in the controller's windows."""
        name = self.rollout.name
        for comparator, differs in disagreements.items():
            key = (kind, comparator, differs)
            child = self._counters.get(key)
            if child is None:
                result = "disagree" if differs else "agree"
                child = self._counters[key] = COMPARISONS.labels(name, kind, comparator, result)
            child.inc()
        if self.windows is not None:
            arm, role = WINDOW_PREFIX[kind]
            self.windows.add_pair(name, arm, role, dict(disagreements), now)

    def should_keep(self) -> bool:
        return random.random() < self.config.pairs.sample

    async def keep(self, pair: dict[str, Any]) -> None:
        """Store a pair for people; a store that is down just loses this sample."""
        name, keep = self.rollout.name, self.config.pairs.keep
        await self.guard.call("pairs.add", lambda: self.store.pairs.add(name, pair, keep))

    def status(self) -> dict[str, Any]:
        budget = self.budget
        return {
            "share": self.config.share,
            "per": self.config.per,
            "noise_share": self.config.noise_share,
            "during_ramp": self.config.during_ramp,
            "queued": self.queue.queued,
            "in_flight": self.queue.in_flight,
            "max_cpu": self.config.max_cpu,
            "cpu_share": round(self.headroom.share, 3),
            "budget": None if budget is None else budget.status(),
        }
