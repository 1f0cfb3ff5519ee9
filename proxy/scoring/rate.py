"""At most N scorer calls in any 60 seconds, per process: the call times of the last minute, at
most N of them (a fixed bound on memory). Unlike a token bucket (N of burst plus N of refill),
no minute ever sees more than N."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0


class CallsPerMinute:
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"calls_per_minute must be at least 1, got {limit}")
        self.limit, self._clock = limit, clock
        self._calls: deque[float] = deque()

    def allow(self, calls: int) -> bool:
        """Take `calls` calls now if the last minute leaves room for all of them."""
        if calls <= 0:
            return True
        now = self._clock()
        while self._calls and now - self._calls[0] >= MINUTE:
            self._calls.popleft()
        if len(self._calls) + calls > self.limit:
            return False
        self._calls.extend([now] * calls)
        return True

    def used(self) -> int:
        """Calls taken in the last minute."""
        now = self._clock()
        return sum(1 for t in self._calls if now - t < MINUTE)
