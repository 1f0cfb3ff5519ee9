"""Run shadow jobs off the request path: bounded queue, bounded in-flight work, a timeout each.

The request path only ever calls `submit`, which never waits and never raises: when the shadow
cannot take a job (queue full, budget spent, shutting down) the job is dropped and the drop is
counted by reason. Nothing a shadow job does — hang, fail, go slow — can reach the primary
response; at worst shadow jobs are dropped.

`max_in_flight` long-lived worker tasks take jobs from one asyncio.Queue, so at most that many
jobs run at once and no task is created per job. Each job runs under its own `asyncio.timeout`
(which cancels it, so its connection is released); a job that outlives it is counted as a
timeout and its worker moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter

from proxy.shadow.budget import HourlyBudget
from proxy.shadow.metrics import DROPPED, JOBS

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ShadowJob:
    rollout: str  # metrics label
    run: Callable[[], Awaitable[object]]  # the shadow call and its comparison; not started yet
    timeout: float  # seconds, from when a worker starts it
    budget: HourlyBudget | None = None  # checked on submit; None: no budget
    release: Callable[[], None] | None = None  # called once when the job ends or is dropped


@dataclass(slots=True, frozen=True)
class QueueMetrics:
    """Where a queue counts its drops {rollout, reason} and finished jobs {rollout, outcome}."""

    dropped: Counter = DROPPED
    jobs: Counter = JOBS


SHADOW_METRICS = QueueMetrics()


class ShadowQueue:
    def __init__(
        self, max_queued: int, max_in_flight: int, metrics: QueueMetrics = SHADOW_METRICS
    ) -> None:
        if max_queued < 1 or max_in_flight < 1:
            raise ValueError("max_queued and max_in_flight must be at least 1")
        self.max_in_flight, self.metrics = max_in_flight, metrics
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue(max_queued)
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False
        self.in_flight = 0  # jobs running now; for tests and status

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @property
    def bounds(self) -> tuple[int, int]:
        return self._queue.maxsize, self.max_in_flight

    def submit(self, job: ShadowJob) -> bool:
        """Queue `job`; False (and counted) when it was dropped. Never blocks, never raises."""
        try:
            reason = self._refusal(job)
            if reason is None:
                self._start_workers()  # first: if it fails, the job must not sit in the queue
                self._queue.put_nowait(job)
                return True
        except asyncio.QueueFull:
            reason = "queue_full"
        except Exception:  # never let a shadow bug fail the primary request
            log.exception("shadow submit failed")
            reason = "internal"
        _drop(job, reason, self.metrics)
        return False

    def _refusal(self, job: ShadowJob) -> str | None:
        if self._closed:
            return "closed"
        if job.budget is not None and not job.budget.allow():
            return "budget"
        return None

    def _start_workers(self) -> None:
        # Lazily, on the first job: the loop is running then (submit is called from a handler).
        if not self._workers:
            loop = asyncio.get_running_loop()  # raises before any coroutine is created
            self._workers = [
                loop.create_task(self._work(), name=f"shadow-worker-{i}")
                for i in range(self.max_in_flight)
            ]

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self.in_flight += 1
            try:
                await _run(job, self.metrics)
            finally:
                self.in_flight -= 1
                self._queue.task_done()

    async def join(self) -> None:
        """Wait until every queued job has run (for tests and orderly shutdown)."""
        await self._queue.join()

    def stop_taking(self) -> None:
        """Refuse new jobs (dropped as `closed`); those already queued still run."""
        self._closed = True

    async def retire(self, timeout: float) -> None:
        """Take no new jobs, let the queued and running ones finish (at most `timeout` seconds
        more), then close."""
        self.stop_taking()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._queue.join()
        await self.close()

    async def close(self, grace: float = 1.0) -> None:
        """Stop taking jobs, drop the queued ones, cancel running ones and wait at most `grace`
        seconds for them to unwind (a job that ignores cancellation is abandoned)."""
        self._closed = True
        while not self._queue.empty():
            job = self._queue.get_nowait()
            self._queue.task_done()
            _drop(job, "closed", self.metrics)
        for task in self._workers:
            task.cancel()
        if self._workers:
            await asyncio.wait(self._workers, timeout=grace)
        self._workers = []


async def _run(job: ShadowJob, metrics: QueueMetrics) -> None:
    outcome = "ok"
    try:
        async with asyncio.timeout(job.timeout):
            await job.run()
    except TimeoutError:
        outcome = "timeout"
    except asyncio.CancelledError:
        metrics.jobs.labels(job.rollout, "cancelled").inc()
        raise  # the worker is being cancelled: shutting down
    except Exception:
        log.warning("shadow job for %s failed", job.rollout, exc_info=True)
        outcome = "error"
    finally:
        _release(job)
    metrics.jobs.labels(job.rollout, outcome).inc()


def _drop(job: ShadowJob, reason: str, metrics: QueueMetrics) -> None:
    try:
        metrics.dropped.labels(job.rollout, reason).inc()
    except Exception:  # a malformed job must not make submit raise
        log.exception("could not count a shadow drop")
    _release(job)


def _release(job: ShadowJob) -> None:
    if job.release is not None:
        try:
            job.release()
        except Exception:  # never let a shadow bug reach the request path
            log.exception("could not release a shadow job")
