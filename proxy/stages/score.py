"""Hand a sampled live answer to its rollout's scoring queue: after the client has its whole
answer (the last stage). `submit` never waits and never raises; what cannot be scored is
dropped and counted (llm_rollout_scoring_dropped_total). A failed call is not scored: the
error_rate gate judges it, and a judge has nothing to read."""

from __future__ import annotations

from proxy.exchange import Exchange
from proxy.stages.record import error_kind
from rollout.errors import ClientCancelled


class Score:
    name = "score"

    async def __call__(self, ex: Exchange) -> None:
        scoring = ex.scoring
        if scoring is None:
            return
        if isinstance(ex.error, ClientCancelled):
            scoring.skip("live_cancelled")
        elif error_kind(ex) is not None or ex.observation is None:
            scoring.skip(None)
        else:
            scoring.submit((ex,))
