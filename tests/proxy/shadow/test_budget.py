from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from proxy.cohorts.store_guard import StoreGuard
from proxy.shadow.budget import HourlyBudget
from proxy.shadow.budget_sync import BudgetSync
from rollout.store import open_store

_names = itertools.count()


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(usd_per_hour: float, clock: Clock) -> tuple[HourlyBudget, str]:
    name = f"b{next(_names)}"
    return HourlyBudget(name, usd_per_hour, clock), name


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value("llm_rollout_shadow_budget_paused", {"rollout": name})


def test_pauses_when_spent_and_resumes_as_spend_slides_out() -> None:
    clock = Clock(10.0)
    budget, name = make(1.0, clock)
    assert budget.allow() and gauge(name) == 0
    budget.spend(0.6)  # minute 0
    clock.now = 30 * 60.0
    budget.spend(0.5)  # minute 30: 1.1 in the hour
    assert not budget.allow()
    assert budget.paused and gauge(name) == 1
    clock.now = 59 * 60.0 + 59  # minute 59: minute 0's spend is still in the hour
    assert not budget.allow()
    clock.now = 60 * 60.0  # minute 60: minute 0 slid out, 0.5 left
    assert budget.allow()
    assert not budget.paused and gauge(name) == 0
    assert budget.spent() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("spends", "allowed"),
    [
        ([0.3, 0.3, 0.3], True),
        ([0.5, 0.5], False),  # reaching the budget exactly pauses
        ([2.0], False),
        ([None, math.nan, math.inf, -5.0, 0.0], True),  # unpriced or nonsense: ignored
    ],
)
def test_spends_within_one_minute(spends: list[float | None], allowed: bool) -> None:
    budget, _ = make(1.0, Clock())
    for usd in spends:
        budget.spend(usd)
    assert budget.allow() is allowed


def test_a_long_idle_gap_clears_everything() -> None:
    clock = Clock()
    budget, _ = make(1.0, clock)
    budget.spend(5.0)
    clock.now = 10 * 3600.0
    assert budget.allow()
    assert budget.spent() == 0.0


def test_a_clock_stepping_back_keeps_the_spend() -> None:
    clock = Clock(600.0)
    budget, _ = make(1.0, clock)
    budget.spend(1.0)
    clock.now = 0.0
    assert not budget.allow()


@pytest.mark.parametrize("usd", [0.0, -1.0, math.nan])
def test_budget_must_be_positive(usd: float) -> None:
    with pytest.raises(ValueError):
        HourlyBudget("x", usd)


@given(st.lists(st.tuples(st.floats(0, 7200), st.floats(0, 1)), max_size=60))
def test_spent_is_the_sum_over_the_last_hour_in_minute_steps(
    events: list[tuple[float, float]],
) -> None:
    clock = Clock()
    budget, _ = make(1e9, clock)
    events.sort()
    for at, usd in events:
        clock.now = at
        budget.spend(usd)
    minute = math.floor(clock.now / 60)
    expected = sum(usd for at, usd in events if usd > 0 and math.floor(at / 60) > minute - 60)
    assert budget.spent() == pytest.approx(expected, abs=1e-9)


def test_a_shared_reading_counts_every_process_and_own_spend_since() -> None:
    budget, _ = make(10.0, Clock(1000.0))
    budget.spend(2.0)  # this process
    budget.shared(7.0)  # every process in the hour, this one's 2.0 included
    assert budget.spent() == 7.0 and budget.allow()
    budget.spend(2.5)  # since the reading: 9.5 in all
    assert budget.spent() == 9.5 and budget.allow()
    budget.spend(1.0)
    assert not budget.allow()  # 10.5: the processes together reached the budget
    budget.shared(3.0)  # a later reading: others' spend slid out of the hour
    assert budget.spent() == 5.5  # this process alone has 5.5 in its own hour: the larger
    budget.shared(float("nan"))  # a nonsense reading changes nothing
    assert budget.spent() == 5.5


async def test_budget_sync_reads_the_shadow_cost_of_the_last_hour(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    try:
        now = int(time.time())
        await store.metrics.add("r", now - now % 10, {"candidate:shadow:cost_usd": 1.5})
        await store.metrics.add("r", now - 7200, {"candidate:shadow:cost_usd": 100.0})  # old
        await store.metrics.add("r", now - now % 10, {"candidate:live:cost_usd": 50.0})  # live
        await store.metrics.add("r", now - now % 10, {"baseline:shadow:cost_usd": 0.25})  # noise
        budget, _ = make(1.0, Clock(1000.0))
        sync = BudgetSync(lambda: {"r": budget}, store.metrics, StoreGuard())
        await sync.sync_once()
        assert budget.spent() == 1.75 and not budget.allow()
    finally:
        await store.close()
