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


def test_mirroring_starts_slowly_after_a_busy_or_quiet_spell() -> None:
    clocks = Clocks()
    period = 1 / 32  # exact in binary: a sum of periods is never a hair short of the next one
    headroom = CpuHeadroom(period, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    admitted = []
    # (wall seconds, CPU share over them): six periods at 30%, one at 100%, one at 30%, a quiet
    # spell of 8 periods (0.25 s) at 5%
    for wall, share in [(period, 0.3)] * 6 + [(period, 1.0), (period, 0.3), (8 * period, 0.05)]:
        clocks.wall += wall
        clocks.cpu += wall * share
        admitted.append(sum(headroom.admit(0.6) for _ in range(100)))
    assert admitted == [2, 4, 8, 16, 32, 64, 0, 2, 1]


def test_a_ceiling_of_one_core_turns_the_check_off() -> None:
    clocks = Clocks()
    headroom = clocks.headroom()
    clocks.wall, clocks.cpu = 0.1, 0.1  # a full core
    assert all(headroom.admit(1.0) for _ in range(1000))
    assert not headroom.admit(0.99)
