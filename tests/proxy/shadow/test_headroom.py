"""The CPU reading that lets shadow work take only the spare CPU: tables over fake clocks."""

from __future__ import annotations

import math

import pytest

from proxy.shadow.headroom import CpuHeadroom


class Clocks:
    def __init__(self) -> None:
        self.wall, self.cpu = 0.0, 0.0

    def headroom(self) -> CpuHeadroom:
        return CpuHeadroom(0.025, clock=lambda: self.wall, cpu=lambda: self.cpu)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (wall seconds passed, CPU seconds used meanwhile, max_cpu) -> busy after it?
        ([(0.1, 0.05, 0.6)], [False]),  # 50% of a core
        ([(0.1, 0.07, 0.6)], [True]),  # 70%
        ([(0.1, 0.07, 0.8)], [False]),  # 70% against 0.8
        # within a period the last reading is reused, whatever was used since
        ([(0.1, 0.09, 0.6), (0.01, 0.0, 0.6)], [True, True]),
        # a burst after a quiet start: the sample sees it at once (the average is still low)
        ([(0.1, 0.09, 0.6)], [True]),
        # the load fell after a busy second: the 0.2 s average lets go some time later
        ([(1.0, 0.9, 0.6), (0.05, 0.005, 0.6), (1.0, 0.1, 0.6)], [True, True, False]),
        # just above the ceiling on average: a sample that dips below it does not count
        ([(1.0, 0.66, 0.6), (0.025, 0.0125, 0.6)], [True, True]),
        ([(0.02, 0.02, 0.6)], [False]),  # before the first period: no reading yet, not busy
        ([(2.0, 0.2, 0.6)], [False]),  # idle for a while: 10%
        ([(0.1, 0.15, 0.9)], [True]),  # two threads' worth of CPU
    ],
)
def test_busy_follows_the_process_cpu_share(
    steps: list[tuple[float, float, float]], expected: list[bool]
) -> None:
    clocks = Clocks()
    headroom = clocks.headroom()
    got = []
    for wall, cpu, max_cpu in steps:
        clocks.wall += wall
        clocks.cpu += cpu
        headroom.admit(max_cpu)
        got.append(headroom.busy)
    assert got == expected


def test_the_reading_is_the_last_sample_and_its_average() -> None:
    clocks = Clocks()
    headroom = clocks.headroom()
    clocks.wall, clocks.cpu = 0.25, 0.1
    headroom.admit(0.6)
    assert headroom.share == pytest.approx(0.4)
    assert headroom.average == pytest.approx(0.4 * (1 - math.exp(-0.25 / 0.2)))


def test_the_window_grows_with_each_job_that_ends_and_halves_when_busy() -> None:
    clocks = Clocks()
    period = 1 / 32  # exact in binary: a sum of periods is never a hair short of the next one
    headroom = CpuHeadroom(period, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu)

    def next_period(share: float, wall: float = period) -> None:
        clocks.wall += wall
        clocks.cpu += wall * share

    def admitted() -> int:
        return sum(headroom.admit(0.6) for _ in range(100))

    def release(n: int) -> None:
        for _ in range(n):
            headroom.release()

    next_period(0.3)
    assert (admitted(), headroom.window) == (1, 1.0)  # one in flight to start with
    release(1)  # slow start: +1 per job that ends
    assert (admitted(), headroom.window) == (2, 2.0)
    release(2)
    assert (admitted(), headroom.window) == (4, 4.0)
    next_period(1.0)  # one busy sample: nothing admitted, but the window is kept
    assert (admitted(), headroom.window) == (0, 4.0)
    next_period(0.3)
    assert admitted() == 0  # the 4 still in flight fill the window
    next_period(1.0, 8 * period)  # the 0.2 s average crosses 0.6: halved
    assert (admitted(), headroom.window) == (0, 2.0)
    release(4)  # jobs that end while busy do not widen it
    assert (headroom.in_flight, headroom.window) == (0, 2.0)
    next_period(0.3, 4 * period)  # the average is back under 0.6
    assert admitted() == 2
    release(2)  # +1 per job that ends: doubling each round trip
    assert headroom.window == 4.0
    release(0)
    next_period(0.05, 8 * period)  # a quiet spell of 0.25 s: start again from one
    assert (admitted(), headroom.window) == (1, 1.0)


def test_a_ceiling_of_one_core_turns_the_check_off() -> None:
    clocks = Clocks()
    headroom = clocks.headroom()
    clocks.wall, clocks.cpu = 0.1, 0.1  # a full core
    assert all(headroom.admit(1.0) for _ in range(1000))
    assert not headroom.admit(0.99)
    assert headroom.in_flight == 1000  # still counted: released as any other
