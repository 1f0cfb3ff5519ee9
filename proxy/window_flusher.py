"""Flush the replica's metric windows to the store, once per interval, surviving store outages.

Record adds every governed call to a `WindowAggregator` (memory only, no I/O on the request
path). This task drains it every `interval` seconds and writes one `windows.add` per
(rollout, bucket): the store sees a handful of round trips per second, whatever the traffic.

When the store fails, the drained fields are kept and merged with what arrives meanwhile, and
the next interval tries again, oldest bucket first: a short outage loses nothing. Delivery is at
least once: an add that timed out may still have been applied by a hung store once it wakes up,
and is sent again. While the store stays down, at most `max_pending` buckets per rollout are
kept (10 minutes' worth by default); older ones are dropped and counted, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import math

from proxy.metrics import STORE_ERRORS, WINDOW_FIELDS_DROPPED
from rollout.control.windows import WindowAggregator
from rollout.errors import StoreError
from rollout.store.base import MetricWindows
from rollout.tasks import Periodic

log = logging.getLogger("llm_rollout.windows")

Key = tuple[str, int]  # (rollout, bucket_start)
_OP = "metrics.add"
KEEP_SECONDS = 600.0  # how long a store outage may last before buckets are dropped


class WindowFlusher:
    def __init__(
        self,
        windows: MetricWindows,
        aggregator: WindowAggregator,
        interval: float = 1.0,
        *,
        max_pending: int | None = None,
        stop_timeout: float = 2.0,
    ) -> None:
        self.windows, self.aggregator, self.interval = windows, aggregator, interval
        self.max_pending = max_pending or math.ceil(KEEP_SECONDS / aggregator.bucket_seconds)
        self.stop_timeout = stop_timeout
        self._pending: dict[Key, dict[str, float]] = {}
        self._lock = asyncio.Lock()  # the loop and a final flush must not send a bucket twice
        self._loop = Periodic("window-flusher", self.flush_once, interval, log)
        self._failing = False  # in an outage: logged once when it starts, once when it ends

    @property
    def pending(self) -> int:
        """Buckets drained but not yet accepted by the store."""
        return len(self._pending)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop the loop, then flush what is left, giving up after `stop_timeout` seconds."""
        await self._loop.stop(self.stop_timeout)
        if self._pending:
            log.warning("shutting down with %d metric window buckets unsent", len(self._pending))
            self._drop(list(self._pending))

    async def flush_once(self) -> None:
        """Drain the aggregator and send every pending bucket; stop at the first store error."""
        async with self._lock:
            self._merge(self.aggregator.drain())
            for key in sorted(self._pending, key=lambda k: k[1]):
                if not await self._send(key):
                    break  # the store is down: the next interval tries again
            self._bound()

    async def _send(self, key: Key) -> bool:
        """Write one bucket; False when the store is unavailable (the bucket stays pending)."""
        try:
            await self.windows.add(key[0], key[1], self._pending[key])
        except StoreError as exc:
            STORE_ERRORS.labels(_OP).inc()
            if not self._failing:
                self._failing = True
                log.warning("store unavailable, keeping metric windows until it is back: %s", exc)
            return False
        except (TypeError, ValueError):  # fields the store refuses (NaN): retrying cannot help
            log.exception("metric window %s refused by the store; dropped", key)
            self._drop([key])
            return True
        del self._pending[key]
        if self._failing:
            self._failing = False
            log.info("store back: metric windows flushed again")
        return True

    def _merge(self, drained: dict[Key, dict[str, float]]) -> None:
        pending = self._pending
        for key, fields in drained.items():
            kept = pending.get(key)
            if kept is None:
                pending[key] = fields
                continue
            for name, value in fields.items():
                kept[name] = kept.get(name, 0.0) + value

    def _bound(self) -> None:
        """Drop the oldest buckets of any rollout with more than `max_pending` waiting."""
        if len(self._pending) <= self.max_pending:
            return  # the common case: nothing to count per rollout
        by_rollout: dict[str, list[int]] = {}
        for rollout, bucket in self._pending:
            by_rollout.setdefault(rollout, []).append(bucket)
        for rollout, buckets in by_rollout.items():
            excess = len(buckets) - self.max_pending
            if excess > 0:
                self._drop([(rollout, b) for b in sorted(buckets)[:excess]])

    def _drop(self, keys: list[Key]) -> None:
        fields = sum(len(self._pending.pop(key)) for key in keys)
        WINDOW_FIELDS_DROPPED.inc(fields)
