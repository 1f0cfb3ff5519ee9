"""The CPU reading that lets shadow work take only the spare CPU: a table over fake clocks."""

from __future__ import annotations

import math

import pytest

from proxy.shadow.headroom import CpuHeadroom


class Clocks:
    def __init__(self) -> None:
        self.wall, self.cpu = 0.0, 0.0


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (wall seconds passed, CPU seconds used meanwhile, max_cpu) -> busy?
        ([(0.1, 0.05, 0.6)], [False]),  # 50% of a core
        ([(0.1, 0.07, 0.6)], [True]),  # 70%
        ([(0.1, 0.07, 0.8)], [False]),  # 70% against 0.8
        # within a period the last reading is reused, whatever was used since
        ([(0.1, 0.09, 0.6), (0.01, 0.0, 0.6)], [True, True]),
        # a burst after a quiet start: the sample sees it at once (the average is still low)
        ([(0.1, 0.09, 0.6)], [True]),
        # the load fell after a busy second: the 0.2 s average lets go some time later
        ([(1.0, 0.9, 0.6), (0.05, 0.005, 0.6), (1.0, 0.1, 0.6)], [True, True, False]),
        # just above the ceiling on average: a sample that dips below it does not let jobs in
        ([(1.0, 0.66, 0.6), (0.025, 0.0125, 0.6)], [True, True]),
        ([(0.02, 0.02, 0.6)], [False]),  # before the first period: no reading yet, not busy
        ([(2.0, 0.2, 0.6)], [False]),  # idle for a while: 10%
        ([(0.1, 0.15, 1.0), (0.1, 0.15, 2.0)], [True, False]),  # two threads' worth of CPU
    ],
)
def test_busy_follows_the_process_cpu_share(
    steps: list[tuple[float, float, float]], expected: list[bool]
) -> None:
    clocks = Clocks()
    headroom = CpuHeadroom(0.025, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    got = []
    for wall, cpu, max_cpu in steps:
        clocks.wall += wall
        clocks.cpu += cpu
        got.append(headroom.busy(max_cpu))
    assert got == expected


def test_the_share_is_the_last_reading() -> None:
    clocks = Clocks()
    headroom = CpuHeadroom(0.1, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    clocks.wall, clocks.cpu = 0.25, 0.1
    headroom.busy(0.6)
    assert headroom.share == pytest.approx(0.4)
    assert headroom.average == pytest.approx(0.4 * (1 - math.exp(-0.25 / 0.2)))
