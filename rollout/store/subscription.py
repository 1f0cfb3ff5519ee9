"""The part of a subscription both stores share: a bounded queue between delivery and consumer."""

from __future__ import annotations

import abc
import asyncio
import logging

from rollout.store.base import Doc, Subscription

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000


class QueueSubscription(Subscription):
    """Delivery calls `_deliver`; the consumer iterates. Subclasses start and stop the delivery."""

    def __init__(self, channel: str, *, timeout: float, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.channel = channel
        self.resubscribed = 0
        self.dropped = 0
        self._timeout = timeout
        self._queue: asyncio.Queue[Doc | None] = asyncio.Queue(maxsize)
        self._ready = asyncio.Event()
        self._entered = False
        self._closed = False

    @abc.abstractmethod
    async def _start(self) -> None:
        """Begin delivering; call `_set_ready` once subscribed."""

    @abc.abstractmethod
    async def _stop(self) -> None:
        """Stop delivering and release what `_start` took."""

    async def __aenter__(self) -> QueueSubscription:
        if self._entered:
            raise RuntimeError("a subscription can be entered only once")
        self._entered = True
        await self._start()
        await self.wait_subscribed(self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop()
        finally:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)  # wakes a consumer waiting in __anext__

    def __aiter__(self) -> QueueSubscription:
        return self

    async def __anext__(self) -> Doc:
        if not self._entered:
            raise RuntimeError("use `async with store.notifications.subscribe(...)` first")
        if self._closed:
            raise StopAsyncIteration
        message = await self._queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def wait_subscribed(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    @property
    def subscribed(self) -> bool:
        return self._ready.is_set()

    def _set_ready(self) -> None:
        self.resubscribed += 1
        self._ready.set()

    def _set_lost(self) -> None:
        self._ready.clear()

    def _deliver(self, message: Doc) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "subscriber of %r is falling behind: %d messages dropped",
                    self.channel,
                    self.dropped,
                )
