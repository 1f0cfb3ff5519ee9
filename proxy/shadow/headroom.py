"""Shadow work runs on the process's spare CPU only: live traffic first.

A mirrored request costs the proxy about as much CPU as the live one (bench/shadow_bench.py), on
the same event loop and core. While there is room that is free; near a full core it is not: every
live request then waits behind shadow work, and with 100% mirroring the live load a core can
carry halves. So the process's CPU use over the last few milliseconds is read when a request is
chosen for mirroring (proxy/shadow/mirror.py), and past the rollout's `shadow.max_cpu` (share of
one core) the request is not mirrored and is counted as dropped, `busy`: under load, mirroring
thins out to what the spare CPU can carry, and comes back by itself when the load falls.

How much shadow work runs at once is a window, as TCP's congestion window: a request is
mirrored only while fewer than `window` shadow jobs are in flight. Each job that ends below the
ceiling widens it by one (so it doubles each round trip of the candidate, as TCP's slow start),
and the 0.2 s average crossing the ceiling halves it. The window is clocked by the jobs' ends,
which is when their CPU is spent: a candidate answering in a second gets its window widened
once a second, never ahead of the cost it brings. After a quiet spell (no request
chosen for 4 periods) the window restarts from one. Without it, the first low reading after a
quiet spell let every request of that period through (about 150 at each start of a 1280 req/s
load in the bench), and a slow candidate's cost arrived a second after the reading admitted it.

The reading is lazy (no task): the first check after `period` seconds takes a new sample of
process CPU time against the wall clock; checks in between reuse it. The sample covers the whole
process (live, shadow, flushers, the embedded controller): what competes for the core. Busy is
judged on the larger of the last sample and a moving average over about `smoothing` seconds:
the sample sees a burst at once, the average keeps a process that runs just above the ceiling
from mirroring in every short sample that happens to dip below it (bench: at 66% of a core live,
25 ms samples alone let 8% of requests through, and their shadow work took the live p99 from
118 to 169 ms).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from proxy.shadow.metrics import CPU_SHARE

# Short, so that a burst after a quiet spell is seen within a few dozen requests: the first
# reading after idle is low, and everything chosen until the next one is mirrored.
PERIOD_SECONDS = 0.025
SMOOTHING_SECONDS = 0.2
# No request chosen for this many periods: a quiet spell, after which mirroring starts slowly.
QUIET_PERIODS = 4
MAX_WINDOW = 1 << 20


class CpuHeadroom:
    def __init__(
        self,
        period: float = PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
        smoothing: float = SMOOTHING_SECONDS,
    ) -> None:
        self.period, self.smoothing, self._clock, self._cpu = period, smoothing, clock, cpu
        self._at, self._cpu_at = clock(), cpu()
        self.share = 0.0  # of one core, over the last sample
        self.average = 0.0  # of one core, moving average of the samples
        self.busy = False  # at the last sample
        self.window = 1.0  # shadow jobs that may be in flight
        self.in_flight = 0

    def admit(self, max_cpu: float) -> bool:
        """May one more request be mirrored now? Not while the process is above `max_cpu` of a
        core (on the last sample or on average), nor beyond the window. A True must be
        followed by exactly one `release()`, when the shadow job ends or is dropped."""
        if max_cpu >= 1.0:  # no ceiling: the check is off
            self.in_flight += 1
            return True
        now = self._clock()
        elapsed = now - self._at
        if elapsed >= self.period:
            self._sample(now, elapsed, max_cpu)
        if self.busy or self.in_flight >= self.window:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        """One admitted shadow job ended (or was dropped): its CPU is spent."""
        self.in_flight = max(0, self.in_flight - 1)
        if self.busy:
            return
        # +1 per job that ends: the window doubles each round trip of the candidate while the
        # process stays below the ceiling. (TCP's slower growth past the last halving point,
        # +1/window, kept it at a few jobs: 2-24% of requests mirrored at 320 req/s where the
        # core had room for about half.)
        self.window = min(self.window + 1.0, MAX_WINDOW)

    def _sample(self, now: float, elapsed: float, max_cpu: float) -> None:
        used = self._cpu()
        was_over = self.average > max_cpu
        self.share = (used - self._cpu_at) / elapsed
        weight = 1.0 - math.exp(-elapsed / self.smoothing)  # a long quiet spell: all new
        self.average += weight * (self.share - self.average)
        self._at, self._cpu_at = now, used
        self.busy = self.share > max_cpu or self.average > max_cpu
        # Halve when the average crosses the ceiling (as TCP on a loss); a single sample above
        # it only holds admissions: 25 ms samples are noisy, and halving on each kept the
        # window at a few jobs at a load the core carries (bench: 15% mirrored, not 64%).
        if self.average > max_cpu and not was_over:
            self.window = max(1.0, self.window / 2)
        elif elapsed > QUIET_PERIODS * self.period:  # after a quiet spell: start from one
            self.window = 1.0
        CPU_SHARE.set(max(self.share, self.average))
