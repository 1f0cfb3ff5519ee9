"""An optional cap on what shadow calls may cost, in US dollars per hour, per rollout.

Sliding hour in one-minute slots: spend is added to the current minute's slot, and the budget is
the sum of the last 60 slots. So the window is the last 59 to 60 minutes, memory is fixed (60
floats, however many calls), and `allow` is O(1) except once a minute when the total is summed
afresh (which also keeps float error from accumulating). A token bucket would be as cheap, but
its burst plus refill lets up to twice the budget through in one hour; a sliding hour is what
people mean by "$5 an hour".

The cost of a call is known only when it ends, so calls already in flight when the budget is
reached still finish and are spent: the overshoot is bounded by the queue's in-flight limit
times one call's cost. Mirroring resumes by itself once old spend slides out of the hour.

Several processes (workers, replicas) share one budget through the store: every shadow call's
cost is in the metric windows, summed over every process, and proxy/shadow/budget_sync.py hands
the last hour's total to `shared()` every few seconds. The budget then counts the larger of its
own hour and that total plus what this process spent since the reading. (Spend flushed to the
windows after the reading was made, about a second's worth, is counted by neither: small.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from prometheus_client import Gauge

from proxy.shadow.metrics import BUDGET_PAUSED

SLOTS = 60
SLOT_SECONDS = 60.0


class HourlyBudget:
    def __init__(
        self,
        rollout: str,
        usd_per_hour: float,
        clock: Callable[[], float] = time.monotonic,
        paused_gauge: Gauge = BUDGET_PAUSED,  # online scoring's budget has a gauge of its own
    ) -> None:
        if not usd_per_hour > 0:  # also rejects NaN
            raise ValueError(f"usd_per_hour must be positive, got {usd_per_hour}")
        self.usd_per_hour = usd_per_hour
        self._clock = clock
        self._slots = [0.0] * SLOTS
        self._minute = math.floor(clock() / SLOT_SECONDS)
        self._total = 0.0
        self._shared: float | None = None  # every process's spend in the hour, as last read
        self._since_shared = 0.0  # this process's spend since that reading
        self._gauge = paused_gauge.labels(rollout)
        self._paused = False
        self._gauge.set(0)

    def status(self) -> dict[str, object]:
        """As the admin API shows it (a mirror's and online scoring's budget alike)."""
        return {
            "usd_per_hour": self.usd_per_hour,
            "spent_last_hour": round(self.spent(), 6),
            "paused": self.paused,
        }

    @property
    def paused(self) -> bool:
        return self._paused

    def spent(self) -> float:
        """USD spent by shadow calls in the last hour (by every process, once shared)."""
        self._advance()
        return self._counted()

    def allow(self) -> bool:
        """May another shadow call start? Updates the paused gauge."""
        self._advance()
        self._set_paused(self._counted() >= self.usd_per_hour)
        return not self._paused

    def shared(self, usd_last_hour: float) -> None:
        """Every process's shadow spend in the last hour, read from the store."""
        if math.isfinite(usd_last_hour) and usd_last_hour >= 0:
            self._shared, self._since_shared = usd_last_hour, 0.0

    def _counted(self) -> float:
        if self._shared is None:
            return self._total
        return max(self._total, self._shared + self._since_shared)

    def spend(self, usd: float | None) -> None:
        """Record a finished shadow call's cost; None (unpriced) or a nonsense value is ignored,
        so an unpriced model is not throttled by the budget — docs/shadow.md says so."""
        if usd is None or not math.isfinite(usd) or usd <= 0:
            return
        self._advance()
        self._slots[self._minute % SLOTS] += usd
        self._total += usd
        self._since_shared += usd
        self._set_paused(self._counted() >= self.usd_per_hour)

    def _advance(self) -> None:
        minute = math.floor(self._clock() / SLOT_SECONDS)
        if minute <= self._minute:  # same minute (or a clock that stepped back: keep the slot)
            return
        for m in range(self._minute + 1, min(minute, self._minute + SLOTS) + 1):
            self._slots[m % SLOTS] = 0.0  # minutes that slid out of the hour
        self._minute = minute
        self._total = math.fsum(self._slots)

    def _set_paused(self, paused: bool) -> None:
        if paused != self._paused:
            self._paused = paused
            self._gauge.set(1 if paused else 0)
