"""Find the rollout that governs the request, if any, and the subject: the unit of stickiness
for cohorts (who is asking, never their secret).

A rollout governs parsed LLM requests on its routes for its models; the first one in config order
wins, and its `subject` sources decide the subject. Other requests get the default order
(OpenAI's `user`, Anthropic's `metadata.user_id`, else a fingerprint of the API key), which
flags may target.

The governing rollout is looked up by route and model (rollout/targeting/governing.py), not
found by judging every rollout: a request costs the same with one rollout or a thousand. The
subject is read once, from the one rollout that governs (or the default order).
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.cohorts.compiled import CompiledRollout
from proxy.cohorts.subjects import default_subject
from proxy.exchange import Exchange
from rollout.targeting.governing import GoverningIndex, Rule


class Identify:
    name = "identify"

    def __init__(self, rollouts: Sequence[CompiledRollout] = ()) -> None:
        self.rollouts = tuple(rollouts)
        self.index = GoverningIndex([Rule(r.routes, r.models, r) for r in self.rollouts])

    async def __call__(self, ex: Exchange) -> None:
        if ex.payload is not None and self.rollouts:
            rollout = self.index.first(ex.route_prefix, ex.model)
            if rollout is not None:
                ex.governing, ex.rollout = rollout, rollout.name
                ex.subject = rollout.subject_of(ex)
                return
        ex.subject = default_subject(ex)
