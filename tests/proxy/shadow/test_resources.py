"""Shadow queues and budgets outlive config reloads (proxy/shadow/resources.py)."""

from __future__ import annotations

import asyncio

from proxy.shadow.queue import ShadowJob
from proxy.shadow.resources import ShadowResources
from rollout.config.shadow import Shadow


async def test_a_reload_keeps_the_queue_and_the_hours_spend_while_their_bounds_hold() -> None:
    resources = ShadowResources()
    first = Shadow(max_queued=4, max_in_flight=2, usd_per_hour=5)
    queue, budget = resources.queue("r", first), resources.budget("r", first)
    assert budget is not None
    budget.spend(4.0)
    share_changed = first.model_copy(update={"share": 0.5, "usd_per_hour": 3.0})
    assert resources.queue("r", share_changed) is queue
    kept = resources.budget("r", share_changed)
    assert kept is budget and kept.spent() == 4.0 and not kept.allow()  # $4 of a new $3
    assert resources.budget("r", first.model_copy(update={"usd_per_hour": None})) is None
    await resources.close()


async def test_a_queue_whose_bounds_change_finishes_its_jobs_then_closes() -> None:
    resources = ShadowResources()
    old = resources.queue("r", Shadow(max_queued=4, max_in_flight=1, timeout=5))
    release, done = asyncio.Event(), []

    async def job() -> None:
        await release.wait()
        done.append(1)

    assert old.submit(ShadowJob("r", job, timeout=5))
    await asyncio.sleep(0)
    new = resources.queue("r", Shadow(max_queued=8, max_in_flight=1, timeout=5))
    assert new is not old and new.bounds == (8, 1)
    assert not old.submit(ShadowJob("r", job, timeout=5))  # retired: takes nothing new
    release.set()
    for _ in range(100):
        if not old._workers:  # closed once its job ended
            break
        await asyncio.sleep(0.01)
    assert done == [1] and not old._workers
    resources.keep_only([])  # the rollout is gone from the config: its queue retires too
    await asyncio.sleep(0.05)
    assert not new.submit(ShadowJob("r", job, timeout=5))
    await resources.close()
