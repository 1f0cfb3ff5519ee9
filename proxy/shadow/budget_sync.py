"""Share each rollout's shadow budget across processes: every few seconds, read the last hour of
the rollout's metric windows (summed over every replica and worker by the store) and hand the
shadow calls' cost to its HourlyBudget (proxy/shadow/budget.py). A store that is down leaves
each process with its own count until it is back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from time import time

from proxy.cohorts.store_guard import StoreGuard
from proxy.shadow.mirror import RolloutMirror
from rollout.store import MetricWindows
from rollout.tasks import Periodic

log = logging.getLogger("llm_rollout.shadow")

SYNC_SECONDS = 10.0
HOUR = 3600
_SHADOW_COST = ":shadow:cost_usd"  # "{arm}:shadow:cost_usd": candidate and noise calls


def shadow_cost(buckets: Mapping[int, Mapping[str, float]]) -> float:
    return sum(
        v for fields in buckets.values() for k, v in fields.items() if k.endswith(_SHADOW_COST)
    )


class BudgetSync:
    def __init__(
        self,
        mirrors: Callable[[], Mapping[str, RolloutMirror]],
        metrics: MetricWindows,
        guard: StoreGuard,
        interval: float = SYNC_SECONDS,
    ) -> None:
        self.mirrors, self.metrics, self.guard = mirrors, metrics, guard
        self._loop = Periodic("shadow-budget-sync", self.sync_once, interval, log)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(last_within=0.0)

    async def sync_once(self) -> None:
        now = time()
        for name, mirror in self.mirrors().items():
            if mirror.budget is None:
                continue
            buckets = await self.guard.call(
                "metrics.read",
                lambda n=name: self.metrics.read(n, int(now - HOUR), int(now) + 1),  # type: ignore[misc]
            )
            if buckets is not None:
                mirror.budget.shared(shadow_cost(buckets))
