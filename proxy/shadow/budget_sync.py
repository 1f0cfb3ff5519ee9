"""Share each rollout's shadow budget across processes: every few seconds, read the last hour of
the rollout's metric windows (summed over every replica and worker by the store) and hand the
shadow calls' cost to its HourlyBudget (proxy/shadow/budget.py). A store that is down leaves
each process with its own count until it is back. Online scoring's budgets are shared the same
way, on the fields that end in `:score_cost_usd`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from time import time

from proxy.cohorts.store_guard import StoreGuard
from proxy.shadow.budget import HourlyBudget
from rollout.store import MetricWindows
from rollout.tasks import Periodic

log = logging.getLogger("llm_rollout.shadow")

SYNC_SECONDS = 10.0
HOUR = 3600
SHADOW_COST = ":shadow:cost_usd"  # "{arm}:shadow:cost_usd": candidate and noise calls
SCORING_COST = ":score_cost_usd"  # "{arm}:{role}:score_cost_usd": judges of scored answers


def shadow_cost(buckets: Mapping[int, Mapping[str, float]], suffix: str = SHADOW_COST) -> float:
    return sum(v for fields in buckets.values() for k, v in fields.items() if k.endswith(suffix))


class BudgetSync:
    def __init__(
        self,
        budgets: Callable[[], Mapping[str, HourlyBudget | None]],
        metrics: MetricWindows,
        guard: StoreGuard,
        interval: float = SYNC_SECONDS,
        suffix: str = SHADOW_COST,
    ) -> None:
        self.budgets, self.metrics, self.guard, self.suffix = budgets, metrics, guard, suffix
        self._loop = Periodic(f"budget-sync{suffix}", self.sync_once, interval, log)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(last_within=0.0)

    async def sync_once(self) -> None:
        now = time()
        for name, budget in self.budgets().items():
            if budget is None:
                continue
            buckets = await self.guard.call(
                "metrics.read",
                lambda n=name: self.metrics.read(n, int(now - HOUR), int(now) + 1),  # type: ignore[misc]
            )
            if buckets is not None:
                budget.shared(shadow_cost(buckets, self.suffix))
