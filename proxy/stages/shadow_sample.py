"""Choose the live requests to mirror to the candidate (docs/shadow.md).

Runs after assign, before observe: only requests the baseline serves are mirrored, and a chosen
request's observer must capture the answer's text for the comparison. Sending happens later,
in the mirror stage, once the client has its answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.cohorts.runtime import Runtime
from proxy.exchange import Exchange
from proxy.shadow.mirror import RolloutMirror


class ShadowSample:
    name = "shadow_sample"

    def __init__(self, mirrors: Mapping[str, RolloutMirror], runtime: Runtime) -> None:
        self.mirrors, self.runtime = mirrors, runtime

    async def __call__(self, ex: Exchange) -> None:
        rollout = ex.governing
        # Only a parsed JSON request can be given the candidate's variant and sent again.
        if rollout is None or ex.arm != "baseline" or ex.payload is None or ex.body is None:
            return
        mirror = self.mirrors.get(rollout.name)
        if mirror is not None and mirror.active(self.runtime.state(rollout.name)):
            ex.shadow = mirror.ticket(ex.subject)
