"""Choose the live answers to score online (docs/scorers.md, "Online scoring").

Runs after assign (the share is per arm), before observe (a chosen answer's text must be
captured). For a request not drawn this is a dictionary lookup, a random draw and a branch; the
admission checks (budget, CPU, calls per minute) and the text capture are paid only by the
drawn ones. The scoring itself is handed over by proxy/stages/score.py once the client has its
answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.cohorts.runtime import Runtime
from proxy.exchange import Exchange
from proxy.scoring.job import SCORABLE_APIS
from proxy.scoring.rollout_scoring import RolloutScoring


class ScoreSample:
    name = "score_sample"

    def __init__(self, scorings: Mapping[str, RolloutScoring], runtime: Runtime) -> None:
        self.scorings, self.runtime = scorings, runtime

    async def __call__(self, ex: Exchange) -> None:
        rollout = ex.governing
        if rollout is None or ex.api not in SCORABLE_APIS or ex.body is None:
            return
        scoring = self.scorings.get(rollout.name)
        if scoring is not None and scoring.ticket(ex.arm, self.runtime.state(rollout.name)):
            ex.scoring = scoring
