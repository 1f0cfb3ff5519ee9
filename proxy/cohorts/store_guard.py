"""Call the store without ever letting it take requests down.

Every failure is counted and turns the guard "down" for a back-off period (1 s, doubling to 10 s)
during which calls are skipped at once instead of each waiting for the store's timeout; the first
call after the period is the probe. A caller gets None instead of an exception and serves from
what it last knew.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import TypeVar

from proxy.cohorts.metrics import STORE_ERRORS, STORE_UP
from rollout.errors import StoreError

log = logging.getLogger("llm_rollout.store")
T = TypeVar("T")


class StoreGuard:
    def __init__(self, first_backoff: float = 1.0, max_backoff: float = 10.0) -> None:
        self.first_backoff, self.max_backoff = first_backoff, max_backoff
        self.up = True
        self._backoff = 0.0
        self._retry_at = 0.0
        STORE_UP.set(1)

    async def call(self, op: str, action: Callable[[], Awaitable[T]]) -> T | None:
        if not self.up and monotonic() < self._retry_at:
            STORE_ERRORS.labels(op).inc()
            return None
        try:
            result = await action()
        except StoreError as exc:
            self._failed(op, exc)
            return None
        if not self.up:
            log.warning("store reachable again")
            self.up, self._backoff = True, 0.0
            STORE_UP.set(1)
        return result

    def _failed(self, op: str, exc: StoreError) -> None:
        STORE_ERRORS.labels(op).inc()
        if self.up:
            log.warning("store unreachable (%s: %s); serving from the last known state", op, exc)
            STORE_UP.set(0)
        self.up = False
        self._backoff = min(self.max_backoff, max(self.first_backoff, self._backoff * 2))
        self._retry_at = monotonic() + self._backoff
