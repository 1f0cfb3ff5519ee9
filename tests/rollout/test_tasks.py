"""Background task helpers (rollout/tasks.py)."""

from __future__ import annotations

import asyncio
import contextlib

from rollout.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:  # as redis-py may, mid-command
            swallowed.append(1)
        await asyncio.sleep(60)  # carries on: the second cancellation ends it

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await cancel_and_wait(task, grace=5)
    assert task.cancelled() and swallowed == [1]


async def test_a_task_that_never_ends_is_left_behind_after_the_grace() -> None:
    listening = False

    async def deaf() -> None:
        while not listening:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(60)

    task = asyncio.create_task(deaf())
    await asyncio.sleep(0)
    await cancel_and_wait(task, grace=0.3)  # returns: a shutdown is not hung by it
    assert not task.done()
    listening = True  # let it end, so the test leaves no task behind
    await cancel_and_wait(task)
    assert task.done()
