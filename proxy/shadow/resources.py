"""The long-lived parts of shadow traffic, per rollout: its queue and its hourly budget; and the
process's CPU reading that every rollout's sampling checks (proxy/shadow/headroom.py).

Everything else about a rollout's mirroring (RolloutMirror: share, salt, redaction...) is built
with each config generation. The queue and the budget outlive config reloads: a reload that keeps
a rollout's queue bounds keeps its queue and the jobs under way, and the budget keeps the hour's
spend under a new limit. A queue whose bounds changed, or whose rollout is gone, is retired: it
takes no new jobs, finishes those it has (each under its own timeout) and then closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from proxy.shadow.budget import HourlyBudget
from proxy.shadow.headroom import CpuHeadroom
from proxy.shadow.queue import ShadowQueue
from rollout.config.shadow import Shadow


class ShadowResources:
    def __init__(self) -> None:
        self._queues: dict[str, ShadowQueue] = {}
        self._budgets: dict[str, HourlyBudget] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self.headroom = CpuHeadroom()  # one process, one core's worth: shared by every rollout

    def queue(self, rollout: str, config: Shadow) -> ShadowQueue:
        queue = self._queues.get(rollout)
        if queue is not None and queue.bounds == (config.max_queued, config.max_in_flight):
            return queue
        if queue is not None:
            self._retire(queue, config.timeout)
        queue = self._queues[rollout] = ShadowQueue(config.max_queued, config.max_in_flight)
        return queue

    def budget(self, rollout: str, config: Shadow) -> HourlyBudget | None:
        usd = config.usd_per_hour
        if usd is None:
            self._budgets.pop(rollout, None)
            return None
        budget = self._budgets.get(rollout)
        if budget is None:
            budget = self._budgets[rollout] = HourlyBudget(rollout, usd)
        budget.usd_per_hour = usd
        return budget

    def keep_only(self, rollouts: Iterable[str], timeout: float = 60.0) -> None:
        """Retire the queues of rollouts that no longer mirror (after a reload)."""
        keep = set(rollouts)
        for name in [n for n in self._queues if n not in keep]:
            self._retire(self._queues.pop(name), timeout)
            self._budgets.pop(name, None)

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
