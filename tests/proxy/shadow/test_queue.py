from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY

from proxy.shadow.budget import HourlyBudget
from proxy.shadow.queue import ShadowJob, ShadowQueue

_names = itertools.count()


def rollout() -> str:
    """A rollout label of the test's own, so counters start at 0."""
    return f"q{next(_names)}"


def dropped(name: str, reason: str) -> float:
    labels = {"rollout": name, "reason": reason}
    return REGISTRY.get_sample_value("llm_rollout_shadow_dropped_total", labels) or 0.0


def jobs(name: str, outcome: str) -> float:
    labels = {"rollout": name, "outcome": outcome}
    return REGISTRY.get_sample_value("llm_rollout_shadow_jobs_total", labels) or 0.0


def job(name: str, run: Callable[[], Awaitable[object]], timeout: float = 5.0) -> ShadowJob:
    return ShadowJob(rollout=name, run=run, timeout=timeout)


async def test_overflow_drops_and_counts() -> None:
    name, gate = rollout(), asyncio.Event()
    q = ShadowQueue(max_queued=2, max_in_flight=1)
    accepted = [q.submit(job(name, gate.wait)) for _ in range(5)]
    assert accepted == [True, True, False, False, False]  # no worker has run yet: 2 queued
    assert dropped(name, "queue_full") == 3
    await asyncio.sleep(0)  # the worker takes one: room for one more
    assert q.in_flight == 1 and q.queued == 1
    assert q.submit(job(name, gate.wait)) is True
    assert q.submit(job(name, gate.wait)) is False
    assert dropped(name, "queue_full") == 4
    gate.set()
    await q.join()
    assert jobs(name, "ok") == 3
    await q.close()


@pytest.mark.parametrize("max_in_flight", [1, 3, 8])
async def test_in_flight_limit_is_respected(max_in_flight: int) -> None:
    name = rollout()
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    q = ShadowQueue(max_queued=100, max_in_flight=max_in_flight)
    assert all(q.submit(job(name, work)) for _ in range(30))
    await q.join()
    assert peak == max_in_flight
    assert jobs(name, "ok") == 30
    await q.close()


async def test_a_hanging_job_times_out_without_blocking_submit() -> None:
    name, never = rollout(), asyncio.Event()
    done: list[int] = []

    async def quick() -> None:
        done.append(1)

    q = ShadowQueue(max_queued=10, max_in_flight=1)
    assert q.submit(job(name, never.wait, timeout=0.05))
    assert q.submit(job(name, quick))
    await asyncio.sleep(0.01)  # the hanging job holds the only worker now
    assert q.in_flight == 1 and q.queued == 1
    started = time.perf_counter()
    assert q.submit(job(name, quick))  # still accepted at once
    assert time.perf_counter() - started < 0.01  # submit never waited on the hang
    await asyncio.wait_for(q.join(), 2)
    assert done == [1, 1]
    assert jobs(name, "timeout") == 1
    assert jobs(name, "ok") == 2
    await q.close()


async def test_a_failing_job_is_counted_and_the_worker_survives() -> None:
    name = rollout()

    async def boom() -> None:
        raise RuntimeError("candidate exploded")

    def not_even_a_coroutine() -> Awaitable[object]:
        raise ValueError("raised before awaiting")

    q = ShadowQueue(max_queued=10, max_in_flight=1)
    for run in (boom, not_even_a_coroutine, _noop):
        assert q.submit(job(name, run))
    await q.join()
    assert jobs(name, "error") == 2
    assert jobs(name, "ok") == 1
    await q.close()


async def _noop() -> None:
    return None


async def test_budget_spent_drops_with_reason_budget() -> None:
    name, now = rollout(), [0.0]
    budget = HourlyBudget(name, usd_per_hour=1.0, clock=lambda: now[0])
    q = ShadowQueue(max_queued=10, max_in_flight=1)
    assert q.submit(ShadowJob(name, _noop, 1.0, budget))
    budget.spend(1.0)
    assert not q.submit(ShadowJob(name, _noop, 1.0, budget))
    assert dropped(name, "budget") == 1
    now[0] = 3600.0  # the spend slid out of the hour
    assert q.submit(ShadowJob(name, _noop, 1.0, budget))
    await q.join()
    await q.close()


async def test_submit_never_raises() -> None:
    name = rollout()

    class BrokenBudget:
        def allow(self) -> bool:
            raise RuntimeError("bug")

    q = ShadowQueue(max_queued=10, max_in_flight=1)
    assert q.submit(ShadowJob(name, _noop, 1.0, BrokenBudget())) is False  # type: ignore[arg-type]
    assert dropped(name, "internal") == 1
    await q.close()


def test_submit_without_a_running_loop_drops_instead_of_raising() -> None:
    name = rollout()
    q = ShadowQueue(max_queued=10, max_in_flight=1)
    assert q.submit(job(name, _noop)) is False
    assert dropped(name, "internal") == 1
    assert q.queued == 0


async def test_close_cancels_in_flight_and_drops_queued_within_grace() -> None:
    name = rollout()
    q = ShadowQueue(max_queued=10, max_in_flight=2)
    for _ in range(5):
        assert q.submit(job(name, lambda: asyncio.sleep(100), timeout=200))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await q.close(grace=1.0)
    assert time.perf_counter() - started < 0.5  # cancelled promptly, not after the grace
    assert jobs(name, "cancelled") == 2
    assert dropped(name, "closed") == 3
    assert q.submit(job(name, _noop)) is False
    assert dropped(name, "closed") == 4


async def test_close_is_bounded_by_grace_even_for_a_job_that_ignores_cancellation() -> None:
    name, release = rollout(), asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await release.wait()
                return
            except asyncio.CancelledError:
                continue  # a misbehaving job swallows every cancellation

    q = ShadowQueue(max_queued=10, max_in_flight=1)
    assert q.submit(job(name, stubborn, timeout=100))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await q.close(grace=0.1)
    assert 0.09 < time.perf_counter() - started < 0.5
    release.set()  # let the abandoned task end so the loop closes cleanly
    await asyncio.sleep(0.02)


@pytest.mark.parametrize(("queued", "in_flight"), [(0, 1), (1, 0), (-1, 5)])
def test_bounds_must_be_positive(queued: int, in_flight: int) -> None:
    with pytest.raises(ValueError):
        ShadowQueue(queued, in_flight)


async def test_every_job_is_released_once_whether_run_dropped_or_cancelled() -> None:
    name, gate = rollout(), asyncio.Event()
    released: list[int] = []

    async def fail() -> None:
        raise RuntimeError("shadow bug")

    def tracked(i: int, run: Callable[[], Awaitable[object]]) -> ShadowJob:
        return ShadowJob(name, run, 5.0, release=lambda: released.append(i))

    q = ShadowQueue(max_queued=2, max_in_flight=1)
    q.submit(tracked(0, fail))  # runs and raises
    await q.join()
    q.submit(tracked(1, gate.wait))  # runs until closed: cancelled
    await asyncio.sleep(0)
    q.submit(tracked(2, gate.wait))  # queued, dropped at close
    q.submit(tracked(3, gate.wait))  # queued, dropped at close
    assert q.submit(tracked(4, gate.wait)) is False  # queue full: dropped at once
    assert released == [0, 4]
    await q.close()
    assert sorted(released) == [0, 1, 2, 3, 4]
