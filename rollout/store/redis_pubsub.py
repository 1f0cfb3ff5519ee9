"""Notifications over Redis pub/sub, with subscriptions that outlive Redis restarts.

Each subscription runs one background task holding one pub/sub connection. When the connection
fails (server gone, reset, or silent: no answer to our PINGs for DEAD_AFTER seconds) the task
drops it and subscribes again on a fresh one, backing off from 50 ms up to 0.5 s with jitter, so
a subscriber is listening again at most ~0.5 s after Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from rollout.store.base import Doc, Subscription
from rollout.store.redis_base import ERRORS, Boundary, Keys, describe
from rollout.store.subscription import QueueSubscription
from rollout.tasks import cancel_and_wait

log = logging.getLogger(__name__)

PING_EVERY = 1.0  # seconds of silence before we PING the pub/sub connection
DEAD_AFTER = 3.0  # seconds without any answer before the connection is given up
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 0.5


class RedisNotifications:
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary) -> None:
        self._client, self._keys, self._call = client, keys, boundary
        self._subscriptions: set[RedisSubscription] = set()

    async def publish(self, channel: str, message: Doc) -> None:
        data = orjson.dumps(message)
        await self._call("notifications.publish", self._client.publish(self.key(channel), data))

    def subscribe(self, channel: str) -> Subscription:
        return RedisSubscription(self, channel)

    def key(self, channel: str) -> str:
        return self._keys.channel(channel)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.aclose()


class RedisSubscription(QueueSubscription):
    def __init__(self, hub: RedisNotifications, channel: str) -> None:
        super().__init__(channel, timeout=hub._call.timeout)
        self._hub = hub
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        self._hub._subscriptions.add(self)
        self._task = asyncio.create_task(self._run(), name=f"store-subscription:{self.channel}")

    async def _stop(self) -> None:
        self._hub._subscriptions.discard(self)
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            pubsub = self._hub._client.pubsub()
            try:
                await self._listen(pubsub)
            except Exception as exc:
                if not isinstance(exc, ERRORS):
                    log.exception("subscription to %r failed unexpectedly", self.channel)
                elif self.subscribed:
                    log.warning(
                        "subscription to %r lost (%s); resubscribing", self.channel, describe(exc)
                    )
                    delay = BACKOFF_FIRST
                self._set_lost()
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._timeout):
                        await pubsub.aclose()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_MAX)

    async def _listen(self, pubsub: PubSub) -> None:
        """Subscribe and deliver until the connection fails (raises; never returns)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            await pubsub.subscribe(self._hub.key(self.channel))
        last_heard = last_ping = loop.time()
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY / 2)
            now = loop.time()
            if message is not None:
                last_heard = now
                if message["type"] == "message":
                    self._decode_and_deliver(message["data"])
                elif message["type"] == "subscribe":
                    if self.resubscribed:
                        log.info("subscription to %r is back", self.channel)
                    self._set_ready()
            if now - last_heard > DEAD_AFTER:
                raise RedisConnectionError(f"no answer from Redis for {DEAD_AFTER:g}s")
            if now - max(last_heard, last_ping) >= PING_EVERY:
                await pubsub.ping()
                last_ping = now

    def _decode_and_deliver(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            log.warning("ignoring a message on %r that is not a JSON object", self.channel)
            return
        self._deliver(message)
