"""The first-byte, idle and total timeouts of one upstream call, on a single lazy timer.

Re-arming a timer for every relayed chunk costs more than the relaying itself on a token
stream; instead a chunk only notes the time, and the one timer, when it fires, either finds the
deadline moved on (and sleeps until the new one) or cancels the call.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from proxy.exchange import Exchange
from rollout.config import Timeouts
from rollout.errors import UpstreamTimeout

_SLACK = 0.001  # timer callbacks may run a hair early


class UpstreamClock:
    def __init__(self, timeouts: Timeouts, ex: Exchange) -> None:
        self.timeouts, self.ex = timeouts, ex
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        now = self.loop.time()
        self.total_deadline = now + timeouts.total
        # Connecting is bounded by the session's own connect timeout; the first byte may take
        # first_byte seconds after that (counted from the start, so a slow connect counts).
        self.first_deadline = min(now + timeouts.connect + timeouts.first_byte, self.total_deadline)
        self.phase = "first_byte"
        self.last_bytes = now
        self.expired = False
        self._timer = self.loop.call_at(self.first_deadline, self._check)

    def got_bytes(self) -> float:
        """Note the arrival of upstream bytes; returns the time (perf_counter)."""
        now = perf_counter()
        if self.phase == "first_byte":
            self.phase = "idle"
            self.ex.first_byte_at = now
        self.last_bytes = self.loop.time()
        return now

    def stop(self) -> None:
        self._timer.cancel()

    def _due(self) -> float:
        if self.phase == "first_byte":
            return self.first_deadline
        return min(self.last_bytes + self.timeouts.idle, self.total_deadline)

    def _check(self) -> None:
        due = self._due()
        if self.loop.time() + _SLACK < due:
            self._timer = self.loop.call_at(due, self._check)
            return
        self.expired = True
        if self.task is not None:
            self.task.cancel()

    def timeout_error(self) -> UpstreamTimeout:
        if self.loop.time() + _SLACK >= self.total_deadline:
            return UpstreamTimeout("total", self.timeouts.total)
        return UpstreamTimeout(self.phase, getattr(self.timeouts, self.phase))
