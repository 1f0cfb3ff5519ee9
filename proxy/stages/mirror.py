"""Hand a chosen live request to its rollout's shadow queue: the last stage, after the client
has its whole answer. `submit` never waits and never raises; a full queue or a spent budget
drops the pair and counts it (llm_rollout_shadow_dropped_total)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial

from proxy.exchange import Exchange
from proxy.shadow.metrics import DROPPED
from proxy.shadow.mirror import RolloutMirror
from proxy.shadow.pair import ShadowStages, run_pair
from proxy.shadow.queue import ShadowJob
from rollout.errors import ClientCancelled

log = logging.getLogger("llm_rollout.shadow")

# The queue's own limit on a job, beyond the shadow calls' timeout: only a bug needs it.
JOB_GRACE_SECONDS = 5.0


class Mirror:
    name = "mirror"

    def __init__(self, mirrors: Mapping[str, RolloutMirror], stages: ShadowStages) -> None:
        self.mirrors, self.stages = mirrors, stages

    async def __call__(self, ex: Exchange) -> None:
        ticket = ex.shadow
        if ticket is None:
            return
        mirror = self.mirrors[ex.rollout]
        if isinstance(ex.error, ClientCancelled):  # no complete live answer to compare with
            DROPPED.labels(ex.rollout, "live_cancelled").inc()
            mirror.headroom.release()
            return
        run = partial(run_pair, mirror, self.stages, ex)
        timeout = mirror.config.timeout + JOB_GRACE_SECONDS
        job = ShadowJob(ex.rollout, run, timeout, mirror.budget, mirror.headroom.release)
        if mirror.queue.submit(job):
            log.debug("shadow pair %s: %s mirrored to the candidate", ticket.pair_id, ex.rollout)
