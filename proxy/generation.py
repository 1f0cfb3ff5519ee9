"""Everything the request path reads that derives from the config, built at once.

The proxy holds one `Generation` and a reload swaps in a new one with a single assignment: a
request reads `proxy.generation` once, when it arrives, and runs on that generation to its end
(a stream that started before a reload finishes on the old routes, variants and stages).
Long-lived parts (upstream sessions, the store, the runtime state, the metric windows) are not
in here: they are shared by the generations and updated in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.cohorts.compiled import CompiledRollout
from proxy.pipeline import Pipeline
from proxy.routing import Router
from proxy.scoring.rollout_scoring import RolloutScoring
from proxy.shadow.mirror import RolloutMirror
from rollout.config import Config


@dataclass(frozen=True, slots=True)
class Generation:
    config: Config
    router: Router
    rollouts: tuple[CompiledRollout, ...]
    pipeline: Pipeline
    mirrors: Mapping[str, RolloutMirror]  # shadow traffic, per rollout with a `shadow:` section
    # online scoring, per rollout with a `scoring:` section
    scorings: Mapping[str, RolloutScoring] = field(default_factory=dict)

    @property
    def max_body_bytes(self) -> int:
        return self.config.limits.max_body_bytes
