"""One rollout's online scoring at run time: which answers are scored, what that may cost, and
where the scores go (Prometheus, and the metric windows the controller's score gates read).

Built for each rollout with a `scoring:` section with every config generation; its queue and
hourly budget outlive reloads (a `ShadowResources` of scoring's own, proxy/shadow/resources.py),
and so does its calls-per-minute limit. The request path only calls `ticket` (a draw, and for
the sampled few the admission checks) and, once the answer has gone, `submit`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from functools import partial
from time import time
from typing import TYPE_CHECKING, Any

from proxy.cohorts.compiled import CompiledRollout
from proxy.scoring.job import score_answers
from proxy.scoring.metrics import COST, DROPPED, SCORE_VALUE, SCORES
from proxy.scoring.rate import CallsPerMinute
from proxy.shadow.queue import ShadowJob
from proxy.shadow.resources import ShadowResources
from rollout.config.scoring import Scoring
from rollout.control.decide import TERMINAL
from rollout.control.live_state import LiveState
from rollout.control.windows import WindowAggregator
from rollout.scorers.base import Score, Scorer
from rollout.scorers.builtin import BuiltinScorer

if TYPE_CHECKING:
    from proxy.exchange import Exchange

log = logging.getLogger("llm_rollout.scoring")


class RolloutScoring:
    def __init__(
        self,
        rollout: CompiledRollout,
        config: Scoring,
        scorers: Mapping[str, Scorer],
        resources: ShadowResources,
        windows: WindowAggregator | None,
        rate: CallsPerMinute | None,
    ) -> None:
        self.rollout, self.name, self.config = rollout, rollout.name, config
        self.scorers, self.windows, self.rate = scorers, windows, rate
        self.queue = resources.queue(rollout.name, config)
        self.budget = resources.budget(rollout.name, config)
        self.headroom = resources.headroom
        self.shares = {"baseline": config.sample.baseline, "candidate": config.sample.candidate}
        # Builtin scorers make no call: only the others count against calls_per_minute.
        self.calls_per_answer = sum(not isinstance(s, BuiltinScorer) for s in scorers.values())
        self._children: dict[tuple[str, str, str, str], Any] = {}

    # -- the request path -------------------------------------------------------------------

    def ticket(self, arm: str, state: LiveState) -> bool:
        """Is this live answer scored? A draw per request (independent of the arms' buckets and
        of the shadow sample); only a drawn request pays for the admission checks."""
        share = self.shares.get(arm, 0.0)
        if share <= 0.0 or random.random() >= share:
            return False
        return self.active(state) and self.admit(1)

    def pair_sampled(self) -> bool:
        """Is this compared shadow pair scored (in a shadow job, off the request path)?"""
        share = self.config.shadow
        return share > 0.0 and random.random() < share

    def active(self, state: LiveState) -> bool:
        """Not while killed, nor once the rollout is rolled back, aborted or complete."""
        return not state.killed and state.phase not in TERMINAL

    def admit(self, answers: int) -> bool:
        """Room for `answers` more scored answers: budget, CPU, calls per minute. A True must
        be followed by one `headroom.release()` per answer (the queue's job does it)."""
        if self.budget is not None and not self.budget.allow():
            return self._drop("budget", answers)
        for taken in range(answers):
            if not self.headroom.admit(self.config.max_cpu):
                self._give_back(taken)
                return self._drop("busy", answers)
        if self.rate is not None and not self.rate.allow(answers * self.calls_per_answer):
            self._give_back(answers)
            return self._drop("rate", answers)
        return True

    def submit(self, exchanges: Sequence[Exchange]) -> None:
        """Queue the scoring of admitted answers; never waits, never raises."""
        run = partial(score_answers, self, tuple(exchanges))
        timeout = self.config.timeout  # the queue cancels the job (its judge calls) there
        release = partial(self._give_back, len(exchanges))
        self.queue.submit(ShadowJob(self.name, run, timeout, self.budget, release))

    def skip(self, reason: str | None) -> None:
        """An admitted answer that will not be scored: a failed call (not counted: the
        error_rate gate judges it) or a client that left (counted)."""
        self.headroom.release()
        if reason is not None:
            DROPPED.labels(self.name, reason).inc()

    # -- off the request path ---------------------------------------------------------------

    def record(self, arm: str, role: str, score: Score, now: float | None = None) -> None:
        """One score, in Prometheus and in the controller's windows."""
        if score.error is not None:
            result = "error"
        elif score.passed is not None:
            result = "passed" if score.passed else "failed"
        else:
            result = "scored"
        value = score.metric
        counter, histogram = self._metrics(arm, role, score.scorer, result)
        counter.inc()
        histogram.observe(value)
        if self.windows is not None:
            now = time() if now is None else now
            error = score.error is not None
            self.windows.add_score(self.name, arm, role, score.scorer, value, error, now)

    def spent(self, usd: float | None) -> None:
        if usd is None or not usd > 0:
            return
        if self.budget is not None:
            self.budget.spend(usd)
        COST.labels(self.name).inc(usd)
        if self.windows is not None:  # every process's spend, for the shared budget
            self.windows.add_scoring_cost(self.name, usd, time())

    def status(self) -> dict[str, Any]:
        budget = self.budget
        return {
            "scorers": list(self.scorers),
            "sample": dict(self.shares),
            "shadow": self.config.shadow,
            "queued": self.queue.queued,
            "in_flight": self.queue.in_flight,
            "calls_last_minute": None if self.rate is None else self.rate.used(),
            "budget": None if budget is None else budget.status(),
        }

    def _metrics(self, arm: str, role: str, scorer: str, result: str) -> tuple[Any, Any]:
        key = (arm, role, scorer, result)
        pair = self._children.get(key)
        if pair is None:
            pair = self._children[key] = (
                SCORES.labels(self.name, arm, role, scorer, result),
                SCORE_VALUE.labels(self.name, arm, role, scorer),
            )
        return pair

    def _give_back(self, answers: int) -> None:
        for _ in range(answers):
            self.headroom.release()

    def _drop(self, reason: str, answers: int) -> bool:
        DROPPED.labels(self.name, reason).inc(answers)
        return False
