"""Small helpers for background asyncio tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("llm_rollout.tasks")

RECANCEL_SECONDS = 0.1


async def cancel_and_wait(task: asyncio.Task[Any] | None, grace: float = 5.0) -> None:
    """Cancel `task` (None: nothing to do) and wait until it has ended, at most `grace` seconds.

    A task can swallow a cancellation: redis-py does when it lands while a command is in flight
    (redis/redis-py#2028, seen here with redis 8.1), and the task carries on. So the task is
    cancelled again every RECANCEL_SECONDS, and one still running after `grace` is left behind
    (logged) rather than hanging a shutdown."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            log.warning("task %s ignored cancellation for %gs: left behind", task.get_name(), grace)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_SECONDS, left))
    if not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with an error", task.get_name(), exc_info=task.exception())


def run_kept(tasks: set[asyncio.Task[Any]], work: Coroutine[Any, Any, Any]) -> None:
    """Run `work` as a task held in `tasks` until it is done (asyncio keeps only a weak
    reference: an unreferenced task may vanish mid-way)."""
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


class Periodic:
    """`work` every `interval` seconds in a task of its own, until stopped. A failure of one
    round is logged and the next one runs: a bug must not end the loop, nor reach the loop's
    exception handler."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        interval: float,
        log: logging.Logger,
    ) -> None:
        self.name, self.work, self.interval, self.log = name, work, interval, log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, last_within: float) -> None:
        """End the loop, then do the work once more (a final flush), for at most
        `last_within` seconds."""
        await cancel_and_wait(self._task)
        self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(last_within):
                await self.work()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.work()
            except Exception:
                self.log.exception("%s failed", self.name)
