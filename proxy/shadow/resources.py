"""The long-lived parts of shadow traffic, per rollout: its queue and its hourly budget; and the
process's CPU reading that every rollout's sampling checks (proxy/shadow/headroom.py).

Everything else about a rollout's mirroring (RolloutMirror: share, salt, redaction...) is built
with each config generation. The queue and the budget outlive config reloads: a reload that keeps
a rollout's queue bounds keeps its queue and the jobs under way, and the budget keeps the hour's
spend under a new limit. A queue whose bounds changed, or whose rollout is gone, is retired: it
takes no new jobs, finishes those it has (each under its own timeout) and then closes.

Online scoring keeps its queues and budgets in a `ShadowResources` of its own (its counters and
gauge, `QueueMetrics`), sharing the process's CPU reading with shadow traffic: both live on the
spare CPU of the same core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import Gauge

from proxy.shadow.budget import HourlyBudget
from proxy.shadow.headroom import CpuHeadroom
from proxy.shadow.metrics import BUDGET_PAUSED
from proxy.shadow.queue import SHADOW_METRICS, QueueMetrics, ShadowQueue


class Bounds(Protocol):
    """What a queue and a budget are built from: rollout.config.shadow.Shadow, or
    rollout.config.scoring.Scoring."""

    @property
    def max_queued(self) -> int: ...
    @property
    def max_in_flight(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def usd_per_hour(self) -> float | None: ...


class ShadowResources:
    def __init__(
        self,
        metrics: QueueMetrics = SHADOW_METRICS,
        paused_gauge: Gauge = BUDGET_PAUSED,
        headroom: CpuHeadroom | None = None,
    ) -> None:
        self.metrics, self.paused_gauge = metrics, paused_gauge
        self._queues: dict[str, ShadowQueue] = {}
        self._budgets: dict[str, HourlyBudget] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        # One process, one core's worth: shared by every rollout (and by online scoring).
        self.headroom = headroom if headroom is not None else CpuHeadroom()

    def queue(self, rollout: str, config: Bounds) -> ShadowQueue:
        queue = self._queues.get(rollout)
        if queue is not None and queue.bounds == (config.max_queued, config.max_in_flight):
            return queue
        if queue is not None:
            self._retire(queue, config.timeout)
        queue = ShadowQueue(config.max_queued, config.max_in_flight, self.metrics)
        self._queues[rollout] = queue
        return queue

    def budget(self, rollout: str, config: Bounds) -> HourlyBudget | None:
        usd = config.usd_per_hour
        if usd is None:
            self._budgets.pop(rollout, None)
            return None
        budget = self._budgets.get(rollout)
        if budget is None:
            budget = HourlyBudget(rollout, usd, paused_gauge=self.paused_gauge)
            self._budgets[rollout] = budget
        budget.usd_per_hour = usd
        return budget

    def keep_only(self, rollouts: Iterable[str], timeout: float = 60.0) -> None:
        """Retire the queues of rollouts that no longer mirror (after a reload)."""
        keep = set(rollouts)
        for name in [n for n in self._queues if n not in keep]:
            self._retire(self._queues.pop(name), timeout)
            self._budgets.pop(name, None)

    def budgets(self) -> dict[str, HourlyBudget]:
        """The budgets in use, by rollout (for proxy/shadow/budget_sync.py)."""
        return dict(self._budgets)

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        for queue in self._queues.values():
            await queue.close()
        self._queues.clear()

    def _retire(self, queue: ShadowQueue, timeout: float) -> None:
        queue.stop_taking()  # at once: the new generation's requests go to the new queue
        task = asyncio.get_running_loop().create_task(queue.retire(timeout))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
